##! Opt-in WebSocket transport (Zeek 8.0 and later).
##!
##! Load with ``@load hamad/websocket`` (instead of, or after, ``@load hamad``).
##! Zeek's WebSocket API needs the ZeroMQ cluster backend; in a standalone
##! Zeek this script loads it and runs its XPUB/XSUB proxy thread, which is
##! why it is a separate script: ``@load`` is static and would change the
##! cluster backend of every user of the package. In a ZeroMQ cluster the
##! backend is already configured and only the transport is switched.

@load base/misc/version
@load ./main
@load ./transport
@load ./notice

@if ( Version::at_least("8.0") )
@if ( |Cluster::nodes| == 0 )
@load frameworks/cluster/backend/zeromq
redef Cluster::Backend::ZeroMQ::run_proxy_thread = T;
@endif
@endif

redef HAMAD::transport = "websocket";
