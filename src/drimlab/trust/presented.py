"""The chain a client presented, kept even when the bench refuses it during the handshake.

Python's `ssl` module shows a peer's certificate only after a handshake that succeeded: a
client refused for an unknown CA, an expired or a rogue certificate left no identity in the
bench's records. OpenSSL calls a verify callback for each certificate of the chain it checks;
`capture_presented_chains(context)` installs one on the context's `SSL_CTX` (through ctypes,
with the libssl the `ssl` module itself uses) that copies the chain the peer sent, in DER, and
returns OpenSSL's own verdict unchanged: the bench's trust decision is not touched. The copy
is keyed by the connection's `SSL` and taken back with `take_presented_chain(sslobject)`.

The pointers are read from CPython's `_ssl` objects (the `SSL_CTX` of a context, the `SSL` of
a connection), whose layout has not changed since Python 3.7; each is checked against OpenSSL
before use (the verify mode of the context, the context of the connection), and anything
unexpected (another platform, another layout, a libssl without the symbols) turns capture off:
refusals are then recorded without the chain, as before.
"""

from __future__ import annotations

import ctypes
import ssl
import sys
import threading
from collections import OrderedDict
from typing import Any

_KEEP = 1024  # connections whose chain is held at once (handshakes in progress)
_VERIFY_PEER_REQUIRED = 3  # SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
_HEAD = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)  # PyObject_HEAD

VerifyCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)

_lock = threading.Lock()
_chains: OrderedDict[int, tuple[bytes, ...]] = OrderedDict()


def _library() -> Any | None:
    if sys.platform != "linux" or sys.version_info < (3, 8) or sys.version_info >= (3, 15):
        return None
    try:
        import _ssl  # noqa: PLC0415 - the extension whose libssl the contexts use

        lib = ctypes.CDLL(_ssl.__file__)
        lib.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, VerifyCallback]
        lib.SSL_CTX_set_verify.restype = None
        lib.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_get_verify_mode.restype = ctypes.c_int
        lib.SSL_get_SSL_CTX.argtypes = [ctypes.c_void_p]
        lib.SSL_get_SSL_CTX.restype = ctypes.c_void_p
        lib.SSL_get_ex_data_X509_STORE_CTX_idx.argtypes = []
        lib.SSL_get_ex_data_X509_STORE_CTX_idx.restype = ctypes.c_int
        lib.X509_STORE_CTX_get_ex_data.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.X509_STORE_CTX_get_ex_data.restype = ctypes.c_void_p
        lib.X509_STORE_CTX_get0_untrusted.argtypes = [ctypes.c_void_p]
        lib.X509_STORE_CTX_get0_untrusted.restype = ctypes.c_void_p
        lib.X509_STORE_CTX_get0_cert.argtypes = [ctypes.c_void_p]
        lib.X509_STORE_CTX_get0_cert.restype = ctypes.c_void_p
        lib.OPENSSL_sk_num.argtypes = [ctypes.c_void_p]
        lib.OPENSSL_sk_num.restype = ctypes.c_int
        lib.OPENSSL_sk_value.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.OPENSSL_sk_value.restype = ctypes.c_void_p
        lib.i2d_X509.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.i2d_X509.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError):
        return None
    return lib


_LIB = _library()


def _der(cert: int) -> bytes | None:
    assert _LIB is not None
    size = _LIB.i2d_X509(cert, None)
    if size <= 0:
        return None
    buffer = ctypes.create_string_buffer(size)
    cursor = ctypes.c_void_p(ctypes.addressof(buffer))
    if _LIB.i2d_X509(cert, ctypes.byref(cursor)) != size:
        return None
    return buffer.raw


def _on_verify(preverify_ok: int, store_ctx: int | None) -> int:
    """OpenSSL's verify callback: copy the presented chain, keep OpenSSL's verdict."""
    try:
        if _LIB is not None and store_ctx:
            ssl_ptr = _LIB.X509_STORE_CTX_get_ex_data(
                store_ctx, _LIB.SSL_get_ex_data_X509_STORE_CTX_idx()
            )
            if ssl_ptr:
                _remember(int(ssl_ptr), _presented(store_ctx))
    except Exception:
        pass
    return preverify_ok


def _presented(store_ctx: int) -> tuple[bytes, ...]:
    assert _LIB is not None
    stack = _LIB.X509_STORE_CTX_get0_untrusted(store_ctx)
    certs: list[int] = []
    if stack:
        certs = [_LIB.OPENSSL_sk_value(stack, i) for i in range(_LIB.OPENSSL_sk_num(stack))]
    if not certs:
        leaf = _LIB.X509_STORE_CTX_get0_cert(store_ctx)
        certs = [leaf] if leaf else []
    return tuple(d for d in (_der(c) for c in certs if c) if d is not None)


def _remember(ssl_ptr: int, chain: tuple[bytes, ...]) -> None:
    if not chain:
        return
    with _lock:
        _chains[ssl_ptr] = chain
        _chains.move_to_end(ssl_ptr)
        while len(_chains) > _KEEP:
            _chains.popitem(last=False)


_CALLBACK = VerifyCallback(_on_verify)  # kept alive for as long as OpenSSL may call it


def _pointer(obj: object, offset: int) -> int | None:
    value = ctypes.c_void_p.from_address(id(obj) + offset).value
    return int(value) if value else None


def _ctx_pointer(context: ssl.SSLContext) -> int | None:
    return _pointer(context, _HEAD)  # PySSLContext: PyObject_HEAD, SSL_CTX *ctx


def capture_presented_chains(context: ssl.SSLContext) -> bool:
    """Record, for each connection of this server context, the chain its client sends.

    Returns False (and changes nothing) where capture is not possible.
    """
    if _LIB is None or context.verify_mode is not ssl.CERT_REQUIRED:
        return False
    ctx = _ctx_pointer(context)
    if ctx is None:
        return False
    mode = _LIB.SSL_CTX_get_verify_mode(ctx)
    if mode & _VERIFY_PEER_REQUIRED != _VERIFY_PEER_REQUIRED:  # not the context it should be
        return False
    _LIB.SSL_CTX_set_verify(ctx, mode, _CALLBACK)
    return True


def take_presented_chain(sslobject: ssl.SSLObject) -> tuple[bytes, ...]:
    """The DER chain the peer of this connection presented (leaf first), forgotten once read."""
    if _LIB is None:
        return ()
    inner = getattr(sslobject, "_sslobj", None)
    ctx = _ctx_pointer(sslobject.context)
    if inner is None or ctx is None:
        return ()
    ssl_ptr = _pointer(inner, _HEAD + ctypes.sizeof(ctypes.c_void_p))  # PySSLSocket: Socket, ssl
    if ssl_ptr is None or _LIB.SSL_get_SSL_CTX(ssl_ptr) != ctx:
        return ()
    with _lock:
        return _chains.pop(ssl_ptr, ())


__all__ = ["capture_presented_chains", "take_presented_chain"]
