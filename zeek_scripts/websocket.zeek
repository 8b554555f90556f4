##! The WebSocket transport, chosen explicitly.
##!
##! Load with ``@load hamad/websocket`` (instead of, or after, ``@load hamad``)
##! to talk to the worker over Zeek's WebSocket API whatever the cluster
##! backend (``hamad serve --transport websocket``, or its default ``auto``).
##! On a standalone Zeek 8.1 or later this also provides the cluster backend
##! the WebSocket API needs (``backend.zeek``). Without this script HAMAD
##! already uses WebSocket on Zeek 9.0 and on a ZeroMQ cluster
##! (:zeek:enum:`HAMAD::TRANSPORT_AUTO`).

@load ./backend
@load ./main
@load ./telemetry

redef HAMAD::transport = HAMAD::TRANSPORT_WEBSOCKET;
