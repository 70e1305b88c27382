#!/bin/sh
test_description='contrib: make install puts everything in place; make dist builds'
. "$(dirname "$0")/lib/test-lib.sh"

test -f "$BERTH_BUILD_DIR/Makefile" || skip_all="no Makefile in $BERTH_BUILD_DIR"

test_expect_success 'make install DESTDIR=...' '
	# the unit is generated for the prefix: have it made again for this one
	rm -f "$BERTH_BUILD_DIR/contrib/systemd/berthd.service" &&
	test_when_finished "rm -f \"$BERTH_BUILD_DIR/contrib/systemd/berthd.service\"" &&
	make -s -C "$BERTH_BUILD_DIR" install DESTDIR="$TRASH/inst" prefix=/usr sysconfdir=/etc \
		>install.log 2>&1 &&
	test -x inst/usr/bin/berthd &&
	test -x inst/usr/bin/berth &&
	test -x inst/usr/bin/berth-shim &&
	test -x inst/usr/bin/berth-worker &&
	test -f inst/usr/lib/systemd/system/berthd.service &&
	test -f inst/usr/share/bash-completion/completions/berth &&
	test -f inst/usr/share/doc/berth/config.example.json
'

test_expect_success 'the systemd unit points at the installed daemon' '
	grep "^ExecStart=/usr/bin/berthd --config /etc/berth/config.json\$" \
		inst/usr/lib/systemd/system/berthd.service &&
	grep "^Type=notify\$" inst/usr/lib/systemd/system/berthd.service &&
	! grep "@" inst/usr/lib/systemd/system/berthd.service
'

test_expect_success 'the example config is accepted by berthd' '
	sed -e "s|/var/lib/berth|$TRASH/exroot|" -e "s|/run/berth|$TRASH/exstate|g" \
		inst/usr/share/doc/berth/config.example.json >config.json &&
	start_berthd --config "$TRASH/config.json" &&
	stop_berthd
'

test_expect_success 'the bash completion loads and completes commands' '
	bash -c ". inst/usr/share/bash-completion/completions/berth &&
		COMP_WORDS=(berth na) COMP_CWORD=1 && _berth 2>/dev/null || true;
		complete -p berth" >comp &&
	grep "berth" comp
'

test_expect_success 'make dist makes a tarball that builds' '
	make -s -C "$BERTH_BUILD_DIR" dist >dist.log 2>&1 &&
	tarball=$(ls "$BERTH_BUILD_DIR"/berth-*.tar.gz | tail -n1) &&
	mkdir dist && tar -C dist -xzf "$tarball" &&
	cd dist/berth-* &&
	./configure -q >../../configure.log 2>&1 &&
	make -s -j2 >../../make.log 2>&1 &&
	./berthd --version &&
	./berth --version
'

test_done
