/* images/http: the REST surface of the images service (and pull). */
#ifndef BERTH_IMAGES_HTTP_H
#define BERTH_IMAGES_HTTP_H

#include "api/router.h"

extern const struct route images_routes[];

#endif
