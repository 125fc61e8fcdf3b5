"""HTTP/1.1 (RFC 9110, RFC 9112), sans I/O: heads, body framing and de-chunking for everyone.

Every capture path (the client simulator, the capture tool, the file loaders, the recording
relay) reads messages through this package, so the same bytes give the same headers and the
same problems whoever captured them. It takes bytes and never opens a socket or a file.

- `HeadReader`, `read_head`: where a head ends, in bytes fed in any pieces;
- `parse_request_head`, `parse_response_head`: the start line and raw ordered headers, with
  each deviation as a `Problem` (a `str` with a stable `code`, see `ProblemCode`);
- `framing_of`, `BodyFramer`: how a body is delimited and where it ends (keep-alive aware);
- `ChunkedDecoder`: the payload of a chunked body;
- `HeadError` and its subclasses: bytes that are not an HTTP head at all.
"""

from drimlab.dicomweb.http1.chunked import (
    MAX_CHUNK_LINE,
    ChunkedDecoder,
    ChunkScanner,
    is_chunk_size_line,
)
from drimlab.dicomweb.http1.framing import BodyFramer, Framing, framing_of
from drimlab.dicomweb.http1.head import (
    LONG_HEAD,
    MAX_HEAD,
    Headers,
    HeadReader,
    Kind,
    RequestHead,
    ResponseHead,
    content_length,
    parse_request_head,
    parse_response_head,
    read_head,
    transfer_codings,
)
from drimlab.dicomweb.http1.problems import (
    TEMPLATES,
    TOLERATED,
    EmptyMessage,
    HeadError,
    HeadTooLarge,
    IncompleteHead,
    NotHttp,
    Problem,
    ProblemCode,
    is_tolerated,
    problem,
    problem_code,
)

__all__ = [
    "LONG_HEAD",
    "MAX_CHUNK_LINE",
    "MAX_HEAD",
    "TEMPLATES",
    "TOLERATED",
    "BodyFramer",
    "ChunkScanner",
    "ChunkedDecoder",
    "EmptyMessage",
    "Framing",
    "HeadError",
    "HeadReader",
    "HeadTooLarge",
    "Headers",
    "IncompleteHead",
    "Kind",
    "NotHttp",
    "Problem",
    "ProblemCode",
    "RequestHead",
    "ResponseHead",
    "content_length",
    "framing_of",
    "is_chunk_size_line",
    "is_tolerated",
    "parse_request_head",
    "parse_response_head",
    "problem",
    "problem_code",
    "read_head",
    "transfer_codings",
]
