#!/usr/bin/env python3
"""A registry token server (the Docker token authentication flow).

The registry is configured with `auth: token:` whose rootcertbundle holds
--cert; this server issues JWTs signed RS256 with --key (through the openssl
command) carrying the certificate in the x5c header, with iss=--issuer,
aud=--service and an `access` claim granting the requested scopes.

  GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]
      Basic auth with --user/--password: every requested action is
      granted. Without an Authorization header: 401, unless
      --anonymous-pull, which grants "pull" actions only. Wrong
      credentials: 401. A service other than --service: 400.
      Answers {"token", "access_token", "expires_in", "issued_at"}.
  POST /token  (form: grant_type=password with username/password, or
      grant_type=refresh_token with a refresh_token it issued; service,
      scope space-separated): the OAuth2 flow containerd tries first;
      answers {"access_token", "refresh_token", ...}. --no-oauth makes it
      404, so clients fall back to GET.
  GET /stats  {"requests": N, "tokens": N, "denied": N}

--log gets one line per request:
  GET /token user=NAME scope=SCOPE[ SCOPE...] status=200
(user=- when anonymous). Prints the port; see fixture.py for --port-file,
--parent, --lifetime.
"""
import base64
import http.server
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der(path):
    with open(path) as f:
        pem = f.read()
    body = pem.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----", 1)[0]
    return base64.b64decode("".join(body.split()))


def parse_scopes(values):
    """[(type, name, [actions])] from scope strings (space-separated lists)."""
    out = []
    for value in values:
        for scope in value.split():
            typ, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if typ and name:
                out.append((typ, name, [a for a in actions.split(",") if a]))
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "berth-test-token-server"

    def log_message(self, fmt, *a):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/stats":
            with self.server.lock:
                c = dict(self.server.counters)
            self.reply(200, {"requests": c.get("requests", 0), "tokens": c.get("tokens", 0),
                             "denied": c.get("denied", 0)})
            return
        if url.path != "/token":
            self.reply(404, {"error": "not found"})
            return
        fixture.count(self.server, "requests")
        q = urllib.parse.parse_qs(url.query)
        user = self.basic_user()
        if user is False:
            return self.deny(401, "-", q.get("scope", []), "invalid credentials")
        self.grant(user, q.get("service", [""])[0], q.get("scope", []), refresh=False)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode() if n else "")
        if url.path != "/token" or self.server.args.no_oauth:
            self.reply(404, {"error": "not found"})
            return
        fixture.count(self.server, "requests")
        scopes = form.get("scope", [])
        grant = form.get("grant_type", [""])[0]
        a = self.server.args
        if grant == "password":
            if form.get("username", [""])[0] != a.user or form.get("password", [""])[0] != a.password:
                return self.deny(401, form.get("username", ["-"])[0], scopes, "invalid credentials")
            user = a.user
        elif grant == "refresh_token":
            user = self.server.refresh.get(form.get("refresh_token", [""])[0])
            if user is None:
                return self.deny(401, "-", scopes, "unknown refresh token")
        else:
            return self.deny(400, "-", scopes, "unsupported grant_type")
        self.grant(user, form.get("service", [""])[0], scopes, refresh=True)

    def basic_user(self):
        """The user name (valid Basic credentials), None (no header), False (wrong)."""
        auth = self.headers.get("Authorization")
        if not auth:
            return None
        kind, _, cred = auth.partition(" ")
        if kind.lower() != "basic":
            return False
        try:
            user, _, pw = base64.b64decode(cred.strip()).decode().partition(":")
        except ValueError:
            return False
        a = self.server.args
        if user != a.user or pw != a.password:
            return False
        return user

    def grant(self, user, service, scope_values, refresh):
        a = self.server.args
        if service != a.service:
            return self.deny(400, user or "-", scope_values, f"unknown service {service!r}")
        if user is None and not a.anonymous_pull:
            return self.deny(401, "-", scope_values, "authentication required")
        access = []
        for typ, name, actions in parse_scopes(scope_values):
            if user is None:
                actions = [x for x in actions if x == "pull"]
            access.append({"type": typ, "name": name, "actions": actions})
        now = int(time.time())
        claims = {"iss": a.issuer, "sub": user or "", "aud": a.service, "exp": now + a.expires,
                  "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access}
        token = self.server.sign(claims)
        body = {"token": token, "access_token": token, "expires_in": a.expires,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
        if refresh:
            rt = "rt-" + secrets.token_hex(16)
            with self.server.lock:
                self.server.refresh[rt] = user
            body["refresh_token"] = rt
            body["scope"] = " ".join(scope_values)
        fixture.count(self.server, "tokens")
        self.logtoken(user or "-", scope_values, 200)
        self.reply(200, body)

    def deny(self, status, user, scopes, why):
        fixture.count(self.server, "denied")
        self.logtoken(user, scopes, status)
        extra = {"WWW-Authenticate": 'Basic realm="berth-test-token"'} if status == 401 else {}
        self.reply(status, {"errors": [{"code": "UNAUTHORIZED" if status == 401 else "DENIED",
                                        "message": why}]}, extra)

    def logtoken(self, user, scopes, status):
        self.server.log.write(f"{self.command} /token user={user} scope={' '.join(scopes) or '-'} "
                              f"status={status}")

    def reply(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class Signer:
    def __init__(self, key, cert):
        self.key = key
        self.header = b64url(json.dumps({"typ": "JWT", "alg": "RS256",
                                         "x5c": [base64.b64encode(cert_der(cert)).decode()]},
                                        separators=(",", ":")).encode())

    def __call__(self, claims):
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{self.header}.{payload}".encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=signing_input, capture_output=True, check=True).stdout
        return f"{self.header}.{payload}.{b64url(sig)}"


def main():
    p = fixture.common_args(__doc__)
    p.add_argument("--cert", required=True, help="PEM certificate (the registry's rootcertbundle)")
    p.add_argument("--key", required=True, help="PEM RSA private key of --cert")
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--anonymous-pull", action="store_true")
    p.add_argument("--no-oauth", action="store_true")
    p.add_argument("--expires", type=int, default=300, help="token lifetime in seconds")
    args = p.parse_args()
    fixture.serve(Handler, args, sign=Signer(args.key, args.cert), refresh={})


if __name__ == "__main__":
    main()
