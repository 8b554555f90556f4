##! A cluster backend for a standalone Zeek that serves HAMAD's WebSocket
##! transport.
##!
##! Zeek's WebSocket API runs on a cluster backend. Since Zeek 8.1 a
##! standalone Zeek has none, so this script loads the ZeroMQ backend with
##! its in-process XPUB/XSUB proxy exactly when Zeek's own
##! ``policy/frameworks/cluster/websocket/server.zeek`` would: no backend
##! selected yet and no cluster layout. The proxy's endpoints are IPC
##! sockets named after the process (in ``$TMPDIR`` if its path is short,
##! else ``/tmp``; removed when Zeek exits), so two Zeeks on one host do not
##! collide the way the default TCP ports 5555/5556 would. A cluster keeps
##! its backend. Zeek 8.0 needs nothing: its standalone backend is Broker,
##! whose WebSocket hub serves the API.
##!
##! Loaded by ``websocket.zeek``, and by ``main.zeek`` on Zeek 9.0 and later,
##! where Broker is deprecated and WebSocket is HAMAD's default transport.
##! This has to be a separate script because ``@load`` is static.

@load base/misc/version
@load base/frameworks/cluster

# 8.1 introduced CLUSTER_BACKEND_NONE (the identifier does not exist in 8.0).
@if ( Version::at_least("8.1") )
@if ( Cluster::backend == Cluster::CLUSTER_BACKEND_NONE && |Cluster::nodes| == 0 )
@load frameworks/cluster/backend/zeromq

module HAMAD;

# The backend is HAMAD's: with nothing to score (no trace, no interface),
# transport.zeek ends the run, which the backend would keep alive.
const backend_started_here = T;

redef Cluster::Backend::ZeroMQ::run_proxy_thread = T;

# The proxy's sockets, named after the process. A socket's path must fit in
# about 100 bytes (sockaddr_un), so a long $TMPDIR (a zkg test staging area)
# falls back to /tmp: ZeroMQ failing to bind would stop Zeek.
const tmpdir = getenv("TMPDIR");
const ipc_dir = ( |tmpdir| == 0 || |tmpdir| > 64 ) ? "/tmp" : tmpdir;
const ipc_xpub = fmt("ipc://%s/zeek-hamad-%d.xpub", ipc_dir, getpid());
const ipc_xsub = fmt("ipc://%s/zeek-hamad-%d.xsub", ipc_dir, getpid());

redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = ipc_xpub;
redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = ipc_xsub;

# A node's XPUB connects to the proxy's XSUB and its XSUB to the proxy's XPUB.
redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = ipc_xsub;
redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = ipc_xpub;

event zeek_done() &priority=-100
	{
	unlink(ipc_xpub[6:]);
	unlink(ipc_xsub[6:]);
	}

module GLOBAL;
@endif
@endif
