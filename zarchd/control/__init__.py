"""The control plane: newline-delimited JSON over a private Unix socket (docs/ARCHITECTURE.md).

protocol.py  message format and validation      server.py  ControlServer (the daemon's end)
client.py    call()/ping() (zarchctl's end)       peercred.py, listener.py, connection.py  internals

Nothing is imported here, so `import zarchd.control.client` stays cheap for zarchctl.
"""
