"""DataProxyService: upload locations under the state dir, written by an HTTP PUT (flyte_ls.local.http).

As Admin does (flyteadmin/dataproxy): project and domain are required, plus ``content_md5`` or
``filename_root``; the object lives at
``uploads/<project>/<domain>/<filename_root or base32(md5)>/<filename>``;
re-requesting the location of the same md5 succeeds (fast registration re-uploads), while an existing
``filename_root/filename`` with a different md5 is ``ALREADY_EXISTS``. ``native_url`` is the plain absolute
path, never ``file://`` (flytekit tests ``os.path.isfile`` on it; local-backend.md §0). ``signed_url`` points
at the HTTP server and carries an HMAC over the path, the expiry and the md5, so the PUT endpoint only writes
locations this service handed out; the HMAC key is kept in the state dir (``upload-signing.key``, 0600), so a
URL stays valid across a backend restart until it expires.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import string
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

import grpc
from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc
from google.protobuf import timestamp_pb2

from flyte_ls.local.errors import AlreadyExists, InvalidArgument, Unimplemented, rpc
from flyte_ls.local.flyte_urls import AdminData
from flyte_ls.local.state import StateDir, host_port

MAX_EXPIRES_S = 3600  # Admin's default dataproxy.upload.maxExpiresIn
RANDOM_FILENAME_LENGTH = 20
_RANDOM_ALPHABET = string.ascii_lowercase + string.digits
_FORBIDDEN_CHARS = set("/\\\x00") | {chr(c) for c in range(32)}


def check_component(value: str, what: str) -> str:
    """``value`` as one safe path component, else InvalidArgument (no separators, ``..``, control chars)."""
    if not value:
        raise InvalidArgument(f"{what} must not be empty")
    if value in (".", "..") or any(ch in _FORBIDDEN_CHARS for ch in value) or len(value) > 255:
        raise InvalidArgument(
            f"{what} {value!r} is not a valid path component: no '/', '\\', '.', '..' or control characters"
        )
    return value


def check_relative(value: str, what: str) -> list[str]:
    """``value`` as a relative ``a/b/c`` path of safe components."""
    if value.startswith("/"):
        raise InvalidArgument(f"{what} {value!r} must be relative")
    return [check_component(part, what) for part in value.split("/")]


_FAST_ARCHIVE = re.compile(r"^fast[0-9a-f]{32}\.tar\.gz$")  # flytekit's fast-register archive name


def check_fast_archive(path: Path) -> None:
    """Refuse (UploadRefused 400) a fast-register archive that would extract outside its directory.

    The task's ``pyflyte-fast-execute`` extracts it with the system ``tar -xf ARCHIVE -C WORKDIR``; GNU tar
    and bsdtar already refuse absolute and ``..`` member names and writes through links (the attempt then
    crashes with an unhelpful error), so the upload is refused here with the reason instead: a member name
    that is absolute or has a ``..`` component, a hard link to such a name, a member below a symlink of the
    archive, or a device or FIFO. Symlink targets themselves may point anywhere, as tar allows."""
    links: set[str] = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = member.name
                parts = [p for p in name.split("/") if p not in ("", ".")]
                where = f"the fast-register archive's member {name!r}"
                if name.startswith("/") or ".." in parts:
                    raise UploadRefused(400, f"{where} would be extracted outside the code directory")
                if member.islnk() and (member.linkname.startswith("/") or ".." in member.linkname.split("/")):
                    raise UploadRefused(
                        400, f"{where} is a hard link to {member.linkname!r}, outside the archive"
                    )
                if member.isdev():
                    raise UploadRefused(400, f"{where} is a device or FIFO")
                for i in range(1, len(parts)):
                    if "/".join(parts[:i]) in links:
                        raise UploadRefused(400, f"{where} would be written through the archive's symlink")
                if member.issym():
                    links.add("/".join(parts))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UploadRefused(400, f"the fast-register archive is not a readable .tar.gz: {exc}") from None


class Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...


class UploadRefused(Exception):
    """An upload the HTTP endpoint refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def file_md5(path: Path) -> bytes:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


@dataclass(frozen=True)
class UploadLocation:
    signed_url: str
    native_url: str
    expires_at: float
    headers: dict[str, str]


class Uploads:
    """Upload locations and their signatures, shared by the gRPC service and the HTTP PUT endpoint."""

    def __init__(
        self,
        state: StateDir,
        host: str,
        http_port: int,
        max_upload_bytes: int,
        secret: bytes | None = None,
    ) -> None:
        self.state = state
        self.root = state.uploads
        self.base_url = f"http://{host_port(host, http_port)}"
        self.max_upload_bytes = max_upload_bytes
        # The key lives in the state dir, so URLs handed out before a restart still work after it.
        self._secret = secret if secret is not None else state.signing_key()

    # -- signing -------------------------------------------------------------------------------------
    def _signature(self, rel: str, expires: int, md5_hex: str) -> str:
        msg = f"PUT\n{rel}\n{expires}\n{md5_hex}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def create_location(
        self,
        project: str,
        domain: str,
        content_md5: bytes,
        filename: str,
        filename_root: str,
        expires_in_s: float | None = None,
    ) -> UploadLocation:
        if not project or not domain:
            raise InvalidArgument("project and domain are required parameters")
        if not filename_root and not content_md5:
            raise InvalidArgument("content_md5 or filename_root is a required parameter")
        if content_md5 and len(content_md5) != 16:
            raise InvalidArgument(f"content_md5 must be a 16-byte MD5 digest, got {len(content_md5)}")
        check_component(project, "project")
        check_component(domain, "domain")
        if filename_root:
            check_component(filename_root, "filename_root")
        if filename:
            check_relative(filename, "filename")
        if expires_in_s is None:
            expires_in_s = MAX_EXPIRES_S
        elif expires_in_s < 0 or expires_in_s > MAX_EXPIRES_S:
            raise InvalidArgument(
                f"expiresIn [{expires_in_s:g}s] cannot exceed max allowed expiration [{MAX_EXPIRES_S}s]"
                if expires_in_s > 0
                else f"expiresIn [{expires_in_s:g}s] is invalid"
            )

        if filename and filename_root:
            # A deterministic name: it may be rewritten only with the same content (Admin's rule).
            existing = self.root / project / domain / filename_root / filename
            if existing.is_file():
                where = str(existing)
                if not content_md5:
                    raise AlreadyExists(
                        f"file already exists at location [{where}], "
                        "specify a matching hash if you wish to rewrite"
                    )
                if file_md5(existing) != content_md5:
                    raise AlreadyExists(
                        f"file already exists at location [{where}] with a different md5, "
                        "specify a matching hash if you wish to rewrite"
                    )
        if not filename:
            filename = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(RANDOM_FILENAME_LENGTH))
        prefix = filename_root or base64.b32encode(content_md5).decode("ascii")
        rel = f"{project}/{domain}/{prefix}/{filename}"
        expires = int(time.time() + expires_in_s)
        md5_hex = content_md5.hex()
        signature = self._signature(rel, expires, md5_hex)
        query = urlencode({"expires": expires, "md5": md5_hex, "signature": signature})
        headers = {"Content-MD5": base64.b64encode(content_md5).decode("ascii")} if content_md5 else {}
        return UploadLocation(
            signed_url=f"{self.base_url}/upload/{quote(rel)}?{query}",
            native_url=str(self.root / rel),
            expires_at=float(expires),
            headers=headers,
        )

    # -- the PUT side ----------------------------------------------------------------------------------
    def authorize(self, rel: str, expires: str, md5_hex: str, signature: str) -> Path:
        """The destination of a PUT to ``/upload/<rel>``; raises UploadRefused for bad paths or signatures."""
        try:
            parts = check_relative(rel, "upload path")
        except InvalidArgument as exc:
            raise UploadRefused(400, f"refused upload path {rel!r}: {exc.message}") from None
        if len(parts) < 4:
            raise UploadRefused(400, f"upload path {rel!r} is not <project>/<domain>/<root>/<filename>")
        try:
            expires_at = int(expires)
        except ValueError:
            raise UploadRefused(403, "the upload URL has no valid expiry: request a new location") from None
        expected = self._signature("/".join(parts), expires_at, md5_hex)
        if not hmac.compare_digest(expected, signature):
            raise UploadRefused(
                403,
                "the upload URL's signature does not match (not issued by this backend's state dir, or "
                "altered): request a new location with CreateUploadLocation",
            )
        if expires_at < time.time():
            raise UploadRefused(403, "the upload URL has expired: request a new upload location")
        dest = self.root.joinpath(*parts)
        self._check_inside(dest)
        return dest

    def _check_inside(self, dest: Path) -> None:
        """Refuse a destination that a symlink would take out of the uploads dir."""
        root = os.path.realpath(self.root)
        probe = dest
        while not probe.exists() and probe != self.root and probe.parent != probe:
            probe = probe.parent
        if dest.is_symlink() or os.path.commonpath([root, os.path.realpath(probe)]) != root:
            raise UploadRefused(403, f"refused upload to {dest}: it leads outside the uploads directory")

    def expected_md5(self, md5_hex: str) -> bytes | None:
        try:
            return binascii.unhexlify(md5_hex) if md5_hex else None
        except binascii.Error:
            return None

    def store(
        self, dest: Path, body: Readable, length: int, content_md5_header: str | None, md5_hex: str
    ) -> None:
        """Stream ``length`` bytes of ``body`` into ``dest`` atomically, after checking their MD5 against
        the ``Content-MD5`` header and the md5 the location was issued for. Nothing is written on refusal."""
        header_md5: bytes | None = None
        if content_md5_header is not None:
            try:
                header_md5 = base64.b64decode(content_md5_header.strip(), validate=True)
            except binascii.Error:
                header_md5 = None
            if header_md5 is None or len(header_md5) != 16:
                raise UploadRefused(400, f"Content-MD5 {content_md5_header!r} is not a base64 16-byte MD5")
        signed_md5 = self.expected_md5(md5_hex)
        self.state.uploads_tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix="put-", suffix=".part", dir=self.state.uploads_tmp)
        tmp = Path(tmp_name)
        try:
            h = hashlib.md5()
            remaining = length
            with os.fdopen(fd, "wb") as out:
                while remaining > 0:
                    chunk = body.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise UploadRefused(400, f"the body ended {remaining} bytes short of Content-Length")
                    h.update(chunk)
                    out.write(chunk)
                    remaining -= len(chunk)
            digest = h.digest()
            b64 = base64.b64encode(digest).decode("ascii")
            if header_md5 is not None and header_md5 != digest:
                raise UploadRefused(
                    400,
                    f"Content-MD5 mismatch: the header says {content_md5_header.strip()} "  # type: ignore[union-attr]
                    f"but the body's MD5 is {b64}; nothing was stored",
                )
            if signed_md5 is not None and signed_md5 != digest:
                raise UploadRefused(
                    400,
                    f"the body's MD5 {b64} differs from the content_md5 this location was issued for "
                    f"({base64.b64encode(signed_md5).decode('ascii')}); nothing was stored",
                )
            if _FAST_ARCHIVE.match(dest.name):
                check_fast_archive(tmp)
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._check_inside(dest)
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


class DataProxyServicer(dataproxy_pb2_grpc.DataProxyServiceServicer):
    """``flyteidl.service.DataProxyService`` for the local backend."""

    def __init__(self, uploads: Uploads, data: AdminData | None = None) -> None:
        self.uploads = uploads
        self.data = data

    @rpc
    def CreateUploadLocation(
        self, request: dataproxy_pb2.CreateUploadLocationRequest, context: grpc.ServicerContext
    ) -> dataproxy_pb2.CreateUploadLocationResponse:
        expires_in = None
        if request.HasField("expires_in"):
            expires_in = request.expires_in.ToTimedelta().total_seconds()
        loc = self.uploads.create_location(
            project=request.project,
            domain=request.domain,
            content_md5=request.content_md5,
            filename=request.filename,
            filename_root=request.filename_root,
            expires_in_s=expires_in,
        )
        expires_at = timestamp_pb2.Timestamp()
        expires_at.FromSeconds(int(loc.expires_at))
        return dataproxy_pb2.CreateUploadLocationResponse(
            signed_url=loc.signed_url, native_url=loc.native_url, expires_at=expires_at, headers=loc.headers
        )

    @rpc
    def CreateDownloadLocation(self, request: object, context: grpc.ServicerContext) -> object:
        raise Unimplemented(
            "CreateDownloadLocation is deprecated in Flyte and not served by the local backend; "
            "its native URLs are plain paths on this machine: read them directly"
        )

    @rpc
    def CreateDownloadLink(
        self, request: dataproxy_pb2.CreateDownloadLinkRequest, context: grpc.ServicerContext
    ) -> dataproxy_pb2.CreateDownloadLinkResponse:
        if request.artifact_type != dataproxy_pb2.ARTIFACT_TYPE_DECK:
            raise InvalidArgument(f"invalid artifact type [{request.artifact_type}]: only decks have links")
        if not request.HasField("node_execution_id"):
            raise InvalidArgument("source is required: set node_execution_id")
        return self._data().deck_link(request.node_execution_id)

    @rpc
    def GetData(
        self, request: dataproxy_pb2.GetDataRequest, context: grpc.ServicerContext
    ) -> dataproxy_pb2.GetDataResponse:
        return self._data().get_data(request.flyte_url)

    def _data(self) -> AdminData:
        if self.data is None:
            raise Unimplemented("execution data is not available: this backend runs without AdminService")
        return self.data
