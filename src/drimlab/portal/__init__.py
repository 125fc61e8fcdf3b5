"""The web portal: the DRIM-M test environment in a browser, over the library's one path.

`create_app(portal)` builds the ASGI application; `serve.portal_in_thread` runs it with
uvicorn beside the server simulator (`drimlab start`), `drimlab portal` on its own.
"""

from drimlab.portal.app import create_app
from drimlab.portal.context import Portal, SimulatorLink

__all__ = ["Portal", "SimulatorLink", "create_app"]
