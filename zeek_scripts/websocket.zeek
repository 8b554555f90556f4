##! Opt-in WebSocket transport (Zeek 8.0 and later).
##!
##! Load with ``@load hamad/websocket`` (instead of, or after, ``@load hamad``).
##! Zeek's WebSocket API runs on a cluster backend. A standalone Zeek has none,
##! so this script loads the ZeroMQ backend with its in-process XPUB/XSUB
##! proxy exactly when Zeek's own ``policy/frameworks/cluster/websocket/server.zeek``
##! would: no backend selected yet and no cluster layout. The proxy listens
##! on IPC endpoints private to the process, so two Zeeks on one host do not
##! collide (Linux: abstract sockets; elsewhere files in /tmp, removed at
##! exit). A cluster (zeekctl: Broker backend; or ZeroMQ) keeps its backend;
##! only the transport is switched. This has to be a separate script because
##! ``@load`` is static and would otherwise change the cluster backend of
##! every user of the package.

@load base/misc/version
@load base/frameworks/cluster

@if ( Version::at_least("8.0") )
@if ( Cluster::backend == Cluster::CLUSTER_BACKEND_NONE && |Cluster::nodes| == 0 )
@load frameworks/cluster/backend/zeromq

module Cluster::Backend::ZeroMQ;

redef run_proxy_thread = T;
@ifdef ( AF_Packet::buffer_size )
# Linux (the AF_PACKET plugin exists there only): abstract sockets leave no files.
redef listen_xpub_endpoint = fmt("ipc://@zeek-hamad-%d.xpub", getpid());
redef listen_xsub_endpoint = fmt("ipc://@zeek-hamad-%d.xsub", getpid());
@else
redef listen_xpub_endpoint = fmt("ipc:///tmp/zeek-hamad-%d.xpub", getpid());
redef listen_xsub_endpoint = fmt("ipc:///tmp/zeek-hamad-%d.xsub", getpid());

event zeek_done() &priority=-100
	{
	unlink(listen_xpub_endpoint[6:]);
	unlink(listen_xsub_endpoint[6:]);
	}
@endif
# A node's XPUB connects to the proxy's XSUB and its XSUB to the proxy's XPUB.
redef connect_xpub_endpoint = listen_xsub_endpoint;
redef connect_xsub_endpoint = listen_xpub_endpoint;

module GLOBAL;
@endif
@endif

@load ./main
@load ./transport
@load ./notice
@load ./telemetry

redef HAMAD::transport = "websocket";
