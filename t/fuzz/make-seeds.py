#!/usr/bin/env python3
"""Write the seed corpora of t/fuzz/corpus/<target>/ (seed-* files).

Run from anywhere: python3 t/fuzz/make-seeds.py. Seeds are small and
deterministic; regression inputs (crash-*, named after what they found)
are added by hand beside them and never rewritten here.
"""
import hashlib, io, json, os, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


H = "a" * 64
D = "sha256:" + H

# --- reference -------------------------------------------------------------
for i, r in enumerate([
        "redis", "user/app:v1", "localhost:5000/app", "ghcr.io/o/r@" + D,
        "[::1]:5000/x/y:tag", "foo_bar.com/app", "docker.io/library/busybox:1.36@" + D,
        "Redis", "a/b/c/d:e-f.g_h", "127.0.0.1:5000/ns/img@sha512:" + "b" * 128,
        "example.com:443/path", "registry-1.docker.io/library/alpine"]):
    put("reference", "%02d" % i, r)

# --- filter ----------------------------------------------------------------
for i, f in enumerate([
        'name==redis,labels."com.example/tier"==db', "name~=/^web-[0-9]+$/", "labels.gpu",
        "size!=42\nok==true", "labels.a.b==c", 'id~=|web|, labels."a".b != "x"',
        "topic~=/^\\/images\\//,namespace==default", "", 'name=="\\u00e9\\t"']):
    put("filter", "%02d" % i, f)

# --- oci: first byte = parser | media type (see fuzz-oci.c) ---------------------
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": [D, "sha256:" + "c" * 64]},
                  "config": {"Env": ["PATH=/bin"]}}).encode()
desc = lambda mt, size=10, **kw: dict(mediaType=mt, digest=D, size=size, **kw)
oci_manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": desc("application/vnd.oci.image.config.v1+json"),
                           "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip"),
                                      desc("application/vnd.oci.image.layer.v1.tar+zstd",
                                           annotations={"a": "b"})]}).encode()
docker_manifest = json.dumps({"schemaVersion": 2,
                              "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                              "config": desc("application/vnd.docker.container.image.v1+json"),
                              "layers": [desc("application/vnd.docker.image.rootfs.diff.tar.gzip")]}).encode()
plat = lambda os_, arch, v=None: dict(os=os_, architecture=arch, **({"variant": v} if v else {}))
oci_index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [desc("application/vnd.oci.image.manifest.v1+json", platform=plat("linux", "amd64")),
                                      desc("application/vnd.oci.image.manifest.v1+json", platform=plat("linux", "arm64", "v8")),
                                      desc("application/vnd.oci.image.manifest.v1+json", platform=plat("linux", "arm", "v7"))]}).encode()
docker_list = json.dumps({"schemaVersion": 2,
                          "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                          "manifests": [desc("application/vnd.docker.distribution.manifest.v2+json",
                                             platform=plat("linux", "amd64"))]}).encode()
put("oci", "manifest-oci", b"\x00" + oci_manifest)
put("oci", "manifest-docker", b"\x0a" + docker_manifest)
put("oci", "index-oci", b"\x10" + oci_index)
put("oci", "index-docker", b"\x1a" + docker_list)
put("oci", "config-2-layers", b"\x11" + cfg)
put("oci", "platform", b"\x03linux/arm64/v8")
put("oci", "platform-arm", b"\x03arm/v6")
put("oci", "descriptor", b"\x04" + json.dumps(desc("application/octet-stream", urls=["http://x"])).encode())
put("oci", "schema1", b"\x00" + json.dumps({"schemaVersion": 1, "name": "x"}).encode())

put("oci", "image-spec", b"\x80" + json.dumps({"architecture": "amd64", "os": "linux", "config": {
    "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["PATH=/usr/bin", "A=b=c"],
    "WorkingDir": "/home/user", "User": "1000:1000"}}).encode())
put("oci", "client-spec", b"\x81" + json.dumps({"ociVersion": "1.0.2", "process": {
    "args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["A=1"]},
    "root": {"path": "rootfs", "readonly": True},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}],
              "resources": {"memory": {"limit": 10485760}, "pids": {"limit": 10}}}}).encode())

# --- shim-proto: first byte = what the rest is ------------------------------------
put("shim-proto", "request-kill", b'\x00{"id":3,"method":"kill","params":{"signal":9,"all":true}}')
put("shim-proto", "request-update", b'\x00{"id":4,"method":"update","params":{"resources":{"pids":{"limit":10}}}}')
put("shim-proto", "request-state", b'\x00{"id":1,"method":"state"}')
put("shim-proto", "request-bad", b'\x00{"id":2,"method":"nope","params":[]}')
put("shim-proto", "opts", b"\x01" + json.dumps({
    "id": "c1", "namespace": "default", "runtime": "/usr/sbin/runc", "runtime_root": "/run/berth/runc",
    "runtime_args": ["--debug"], "mounts": [{"type": "overlay", "source": "overlay",
                                            "options": ["lowerdir=/a", "upperdir=/b", "workdir=/c"]}],
    "stdout": "/tmp/out", "log": True, "terminal": False}).encode())
put("shim-proto", "pids", b"\x02[1,2,300]")
put("shim-proto", "runc-log", b'\x03{"level":"info","msg":"x"}\n{"level":"error","msg":"container_linux.go: starting container process caused: exec: \\"nope\\": executable file not found in $PATH"}\n')

# --- extract: first byte = whiteout mode (0 overlay, 1 delete), then a tar -----------
def tar(entries, fmt=tarfile.PAX_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e.get("type", tarfile.REGTYPE)
            ti.mode = e.get("mode", 0o644 if ti.type != tarfile.DIRTYPE else 0o755)
            ti.uid, ti.gid = e.get("uid", 0), e.get("gid", 0)
            ti.mtime = e.get("mtime", 1700000000)
            ti.linkname = e.get("link", "")
            ti.devmajor, ti.devminor = e.get("dev", (0, 0))
            if "pax" in e:
                ti.pax_headers = e["pax"]
            data = e.get("data", b"")
            ti.size = len(data) if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            t.addfile(ti, io.BytesIO(data) if ti.size else None)
    raw = b.getvalue()
    # the end-of-archive blocks, without tarfile's padding to 10 KiB
    end = len(raw)
    while end >= 512 and raw[end - 512:end] == b"\0" * 512:
        end -= 512
    return raw[:end] + b"\0" * 1024

F, DIR, SYM, LNK, CHR, BLK, FIFO = (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE,
                                      tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)
layers = {
    "basic": [dict(name="./", type=DIR), dict(name="etc", type=DIR), dict(name="etc/motd", data=b"hi\n"),
              dict(name="bin", type=DIR), dict(name="bin/sh", type=SYM, link="/bin/busybox"),
              dict(name="bin/busybox", data=b"\x7fELF", mode=0o4755),
              dict(name="bin/hard", type=LNK, link="bin/busybox")],
    "whiteouts": [dict(name="etc", type=DIR), dict(name="etc/.wh.motd"), dict(name="etc/old", type=DIR),
                  dict(name="etc/old/.wh..wh..opq"), dict(name="etc/old/new", data=b"n"),
                  dict(name=".wh..wh.plnk", type=DIR), dict(name="usr/.wh.etc")],
    "dotdot": [dict(name="../escape", data=b"x"), dict(name="a/../../escape2", data=b"x")],
    "absolute": [dict(name="/abs-escape", data=b"x"), dict(name="ok", data=b"y")],
    "symlink-escape": [dict(name="out", type=SYM, link="../../.."), dict(name="out/canary", data=b"pwned")],
    "symlink-abs": [dict(name="root", type=SYM, link="/"), dict(name="root/abs-escape", data=b"pwned")],
    "hardlink-escape": [dict(name="h", type=LNK, link="../../canary"),
                        dict(name="h2", type=LNK, link="/canary")],
    "hardlink-symlink": [dict(name="s", type=SYM, link="/a/b"), dict(name="h", type=LNK, link="s/canary")],
    "devices": [dict(name="dev", type=DIR), dict(name="dev/null", type=CHR, dev=(1, 3)),
                dict(name="dev/loop0", type=BLK, dev=(7, 0)), dict(name="dev/fifo", type=FIFO),
                dict(name="dev/zero-hard", type=LNK, link="dev/null", data=b"")],
    "dir-replaces": [dict(name="x", data=b"file"), dict(name="x", type=DIR), dict(name="x/y", data=b"1"),
                     dict(name="l", type=SYM, link="x"), dict(name="l", type=DIR), dict(name="x", type=SYM, link="/")],
    "xattrs": [dict(name="f", data=b"x", pax={"SCHILY.xattr.user.test": "v",
                                               "SCHILY.xattr.trusted.overlay.opaque": "y",
                                               "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}),
               dict(name="./", type=DIR, mode=0o700, pax={"SCHILY.xattr.user.root": "r"})],
    "modes": [dict(name="d", type=DIR, mode=0o000), dict(name="d/f", data=b"x", mode=0o000, uid=65534, gid=65534),
              dict(name="sticky", type=DIR, mode=0o1777), dict(name="old", data=b"o", mtime=0)],
}
for name, entries in layers.items():
    put("extract", name, b"\x00" + tar(entries))
    put("extract", name + "-delete", b"\x01" + tar(entries))
put("extract", "gnu-longname", b"\x00" + tar([dict(name="d/" + "n" * 200, data=b"x")], tarfile.GNU_FORMAT))
put("extract", "ustar", b"\x01" + tar(layers["basic"], tarfile.USTAR_FORMAT))
put("extract", "truncated", b"\x00" + tar(layers["basic"])[:700])

# --- http: requests separated by ###, see fuzz-http.c -------------------------------
J = "Content-Type: application/json\n"
blob = b"hello fuzz\n"
http = {
    "version": "GET /v1/version\n",
    "plugins-server": "GET /v1/plugins\n###\nGET /v1/server\n###\nGET /metrics\n###\nHEAD /healthz\n",
    "namespace": "PUT /v1/namespaces/fz\n" + J + '\n{"labels":{"a":"b"}}###\nGET /v1/namespaces/fz\n'
                 "###\nPATCH /v1/namespaces/fz\n" + J + '\n{"labels":{"c":"d"}}###\nDELETE /v1/namespaces/fz\n',
    "content": "PUT /v1/namespaces/default/content/%s/data\n\n%s###\nGET /v1/namespaces/default/content/%s/data\n"
               "Range: bytes=2-5\n###\nPATCH /v1/namespaces/default/content/%s\n%s\n{\"labels\":{\"x\":\"y\"}}"
               "###\nGET /v1/namespaces/default/content?filter=labels.x==y\n" % (sha(blob), blob.decode(), sha(blob), sha(blob), J),
    "ingest": "PUT /v1/namespaces/default/content/ingests/up1\nContent-Range: bytes 0-4/11\n\nhello###\n"
              "PUT /v1/namespaces/default/content/ingests/up1\nContent-Range: bytes 5-10/11\n\n fuzz\n###\n"
              "POST /v1/namespaces/default/content/ingests/up1/commit\n" + J + '\n{"digest":"%s","size":11}###\n'
              "GET /v1/namespaces/default/content/ingests\n" % sha(blob),
    "image": "PUT /v1/namespaces/default/images/docker.io%2Flibrary%2Ffz%3A1\n" + J +
             '\n{"target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"' + D +
             '","size":10},"labels":{"l":"v"}}###\nGET /v1/namespaces/default/images?filter=name~=/fz/\n'
             "###\nPOST /v1/namespaces/default/images/docker.io%2Flibrary%2Ffz%3A1/unpack\n" + J + "\n{}"
             "###\nDELETE /v1/namespaces/default/images/docker.io%2Flibrary%2Ffz%3A1?sync=true\n",
    "pull": "POST /v1/namespaces/default/images/pull\n" + J + '\n{"ref":"127.0.0.1:1/x/y:z","plain_http":true,'
            '"platform":"linux/amd64","unpack":false,"auth":{"username":"u","password":"p"}}',
    "leases": "POST /v1/namespaces/default/leases\n" + J + '\n{"id":"l1","labels":{"containerd.io/gc.expire":"2030-01-01T00:00:00Z"}}'
              "###\nPOST /v1/namespaces/default/leases/l1/resources\n" + J + '\n{"id":"' + D + '","type":"content"}'
              "###\nGET /v1/namespaces/default/leases/l1/resources\n###\nPOST /v1/gc\n",
    "snapshots": "POST /v1/namespaces/default/snapshotters/overlayfs/snapshots\n" + J + '\n{"key":"k1","kind":"active"}'
                 "###\nPOST /v1/namespaces/default/snapshotters/overlayfs/snapshots/k1/commit\n" + J + '\n{"name":"c1"}'
                 "###\nPOST /v1/namespaces/default/snapshotters/native/snapshots\n" + J + '\n{"key":"k2","parent":"c1","kind":"view"}'
                 "###\nGET /v1/namespaces/default/snapshotters/overlayfs/snapshots/c1/usage\n",
    "containers": "POST /v1/namespaces/default/containers\n" + J + "\n" + json.dumps({
        "id": "c1", "snapshot_key": "k9", "spec": {"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
                                                   "root": {"path": "rootfs"}},
        "labels": {"a": "b"}, "runtime": {"name": "runc"}}) +
        "###\nPOST /v1/namespaces/default/containers/c1/task\n" + J + '\n{"log":true}'
        "###\nPATCH /v1/namespaces/default/containers/c1\n" + J + '\n{"labels":{"x":"y"}}'
        "###\nDELETE /v1/namespaces/default/containers/c1?cleanup=snapshot\n",
    "container-options": "POST /v1/namespaces/default/containers\n" + J + "\n" + json.dumps({
        "id": "c2", "image": "docker.io/library/fz:1", "process": {"args": ["a"], "env": ["A=1"], "user": "1000:1000"},
        "options": {"net_host": True, "readonly_rootfs": True, "memory": 1048576, "cpus": 0.5, "pids": 10,
                    "mounts": [{"type": "bind", "source": "/tmp", "destination": "/mnt", "options": ["ro"]}]}}),
    "tasks": "GET /v1/namespaces/default/tasks\n###\nPOST /v1/namespaces/default/containers/nope/task/kill\n" + J +
             '\n{"signal":"SIGKILL","all":true}###\nGET /v1/namespaces/default/containers/nope/task/metrics\n',
    "events": "POST /v1/events\n" + J + '\n{"namespace":"default","topic":"/fz/x","event":{"a":1}}',
    "errors": "GET /v1/namespaces/%zz\n###\nBREW /v1/version\n###\nPOST /v1/version\n###\n"
              "PUT /v1/namespaces/x\n" + J + "\n{\"labels\":[1]}###\nPUT /v1/namespaces/y\n" + J + "\n{",
    "expect": "PUT /v1/namespaces/default/content/" + D + "/data\nExpect: 100-continue\n\nwrong",
}
for name, text in http.items():
    put("http", name, text)

# --- registry: first byte = what the rest is (see fuzz-registry.c) ------------------
for name, data in {
        "challenge-bearer": b'\x00Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
        "challenge-several": b'\x00Basic realm="x", Bearer realm="http://127.0.0.1:1/t",error="insufficient_scope",scope="a:b:pull,push"\nNewauth abc==, Basic realm="a\\"b"',
        "challenge-token68": b"\x00Negotiate YWJjZA==",
        "error-body": b'\x01{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}',
        "docker-config": b"\x02" + json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
                                                         "localhost:5000": {"username": "u", "password": "p"},
                                                         "ghcr.io": {"identitytoken": "t"}},
                                                "credsStore": "desktop"}).encode(),
        "base64": b"\x03user:p\xc3\xa4ss\x00word"}.items():
    put("registry", name, data)

# --- sse: count byte, Last-Event-ID line, query --------------------------------------
for name, data in {
        "replay": b"\x05\nsince=1", "last-event-id": b"\x03 2 \nnamespace=default&topic=/images",
        "live": b"\x02\n", "bad-id": b"\x01abc\n", "topics": b"\x07\ntopic=/tasks&topic=/containers&since=0",
        "bad-topic": b"\x00\ntopic=images", "bad-ns": b"\x00\nnamespace=UPPER", "huge": b"\x01 18446744073709551615\n",
        "overflow": b"\x01\nsince=18446744073709551616", "unknown": b"\x00\nfoo=bar"}.items():
    put("sse", name, data)
