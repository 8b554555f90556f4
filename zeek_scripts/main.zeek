##! HAMAD: machine-learning anomaly scores for the connections Zeek sees.
##!
##! When a connection ends, this script condenses its :zeek:type:`Conn::Info`
##! into a :zeek:type:`HAMAD::ConnSummary` and queues it. Queued summaries go
##! out in batches: on the node that talks to the external HAMAD worker
##! (``hamad serve``; a standalone Zeek, or the cluster's manager, see
##! :zeek:see:`HAMAD::scoring_node`) to the worker (``transport.zeek``); on
##! every other cluster node to that node, with :zeek:id:`Cluster::publish`.
##! The worker answers with :zeek:type:`HAMAD::Verdict` records, which
##! ``notice.zeek`` writes to ``hamad.log`` and turns into notices, once, on
##! the scoring node.
##!
##! During live capture Zeek never waits for the worker: while it is missing,
##! summaries are counted as unsent and one :zeek:enum:`HAMAD::Worker_Unavailable`
##! notice is raised per outage.
##!
##! Both sides must agree on the record layouts and event names below; the
##! worker's ``hamad_plugin/transport`` checks them in its contract test.

@load base/misc/version
@load base/frameworks/notice
@load base/frameworks/config
@load base/frameworks/cluster
@load base/protocols/conn
@load base/protocols/conn/thresholds
@load base/utils/site

# Zeek 9.0 deprecates Broker: a standalone 9.0 gets the cluster backend that
# HAMAD's default transport there, WebSocket, needs.
@if ( Version::at_least("9.0") )
@load ./backend
@endif

module HAMAD;

export {
	## The ``hamad.log`` stream: one line per verdict.
	redef enum Log::ID += { LOG };

	## A default logging policy hook for the stream.
	global log_policy: Log::PolicyHook;

	redef enum Notice::Type += {
		## The worker folded :zeek:see:`HAMAD::incident_min_connections`
		## anomalous connections of one originator and one behaviour
		## (password guessing, scan, DNS tunnel, beacon, flood, or
		## "anomalous" when no behaviour is named) into an incident: what to
		## read first. The message names the behaviour, the counts, the
		## first time and the highest score; ``$sub`` the incident id and
		## example uids. Raised once per incident (again after a day while
		## it lasts); the identifier is the incident id, so a cluster's
		## repeats are suppressed for :zeek:see:`HAMAD::notice_suppression`.
		Incident,
		## The worker scored a connection as anomalous with a score of at
		## least :zeek:see:`HAMAD::min_notice_score` (only with
		## :zeek:see:`HAMAD::notice_connections`). The identifier is
		## originator, responder and responder port, so repeats between the
		## same pair of hosts on one service are suppressed for
		## :zeek:see:`HAMAD::notice_suppression`.
		Anomalous_Connection,
		## One originator had :zeek:see:`HAMAD::host_notice_threshold`
		## anomalous connections (final verdicts only) within
		## :zeek:see:`HAMAD::host_notice_window`, counted on this node (off
		## by default: :zeek:enum:`HAMAD::Incident` supersedes it). The
		## identifier is the originator's address.
		Anomalous_Host,
		## The worker cannot be used: it did not say hello, stopped sending
		## heartbeats for :zeek:see:`HAMAD::heartbeat_timeout`, or Zeek could
		## not listen for it. Raised once per outage; the identifier is the
		## listen address and port, so a worker that keeps coming and going
		## raises it once per :zeek:see:`HAMAD::notice_suppression`.
		## Summaries are counted as unsent until the worker is back.
		Worker_Unavailable,
	};

	## How Zeek talks to the worker (:zeek:see:`HAMAD::transport`).
	type Transport: enum {
		## Decided when Zeek starts: the WebSocket transport where Zeek
		## runs a cluster backend other than Broker (ZeroMQ, zeekctl's
		## default since Zeek 8.1; a standalone Zeek 9.0 selects it, see
		## ``backend.zeek``), else Broker.
		TRANSPORT_AUTO,
		## Broker's own peering (``hamad serve --transport broker``).
		## Deprecated by Zeek 9.0 together with the Broker cluster backend.
		TRANSPORT_BROKER,
		## Zeek's WebSocket API (``hamad serve --transport websocket``);
		## needs a cluster backend, which ``@load hamad/websocket`` provides
		## on a standalone Zeek.
		TRANSPORT_WEBSOCKET,
	};

	## How Zeek talks to the worker. The default,
	## :zeek:enum:`HAMAD::TRANSPORT_AUTO`, picks WebSocket on Zeek 9.0 and
	## on a ZeroMQ cluster and Broker otherwise; ``hamad serve`` finds out
	## by itself (``--transport auto``, its default).
	const transport: Transport = TRANSPORT_AUTO &redef;

	## Address the scoring node listens on for the worker (Broker or
	## WebSocket). Keep 127.0.0.1 unless the worker runs on another host.
	const listen_addr = 127.0.0.1 &redef;

	## Port the scoring node listens on for the worker.
	const listen_port = 47761/tcp &redef;

	## Topic prefix: Zeek publishes on ``<prefix>/summaries`` and the worker
	## on ``<prefix>/verdicts``. Must match ``hamad serve --topic-prefix``.
	const topic_prefix = "hamad" &redef;

	## In a cluster, the name of the one node that talks to the worker,
	## writes ``hamad.log`` and raises the notices (for example
	## ``"manager"``); all other nodes forward their summaries to it. Empty:
	## the proxies share the work (:zeek:see:`HAMAD::shard_on_proxies`), or
	## the manager where there are none. A standalone Zeek is always its own
	## scoring node.
	const scoring_node = "" &redef;

	## In a cluster with proxies (and no :zeek:see:`HAMAD::scoring_node`),
	## every proxy is a scoring node with a ``hamad serve`` of its own: the
	## nodes send each summary to the proxy that Zeek's HRW pool
	## (:zeek:see:`Cluster::proxy_pool`) assigns its originator, so all of
	## one host's connections, and its incidents, live on one shard. A proxy
	## that goes away hands its hosts to the others (counted as
	## ``shard_changes``). ``F``: one scoring node.
	const shard_on_proxies = T &redef;

	## Sharded scoring: the port each proxy listens on for its worker, by
	## node name. A proxy not named here listens on
	## :zeek:see:`HAMAD::listen_port` plus its position among the cluster's
	## proxies in name order (``proxy-1`` on 47761, ``proxy-2`` on 47762).
	const shard_ports: table[string] of port = table() &redef;

	## With ``zeek -r``: hold packet processing until the worker says hello,
	## and after the trace score the connections still open and wait for
	## the outstanding verdicts before terminating. Ignored in a cluster.
	const wait_for_worker = T &redef;

	## With ``zeek -r``: how long to wait for the worker's hello (wall clock).
	const startup_wait = 30sec &redef;

	## With ``zeek -r``: how long to wait for outstanding verdicts after the
	## trace ended (wall clock).
	const verdict_wait = 30sec &redef;

	## Score connections at all. With ``F`` no summaries are built or sent.
	option enabled = T;

	## Send a batch as soon as it holds this many summaries (1 to 10000).
	option batch_size = 100;

	## Send a partial batch after at most this long (more than 0, at most 1 min).
	## Not used while reading a trace, where partial batches go out at its end.
	option max_batch_delay = 1sec;

	## Connections with an originator or responder in these subnets are not
	## scored (for example backup traffic or the worker's own connection).
	option ignore_subnets: set[subnet] = set();

	## Only score connections whose originator is local
	## (:zeek:see:`Site::local_nets`).
	option only_local_orig = F;

	## A fixed decision threshold in (0, 1] for the worker; 0 keeps the
	## model's adaptive threshold. Sent to the worker on every hello and change.
	option threshold_override = 0.0;

	## Raise :zeek:enum:`HAMAD::Incident` once an incident has this many
	## anomalous connections (at least 1). A single odd connection stays
	## in ``hamad.log``; a behaviour becomes a notice.
	option incident_min_connections = 3;

	## Also raise :zeek:enum:`HAMAD::Anomalous_Connection` for every
	## anomalous connection (one flood is thousands of them: off by
	## default, ``hamad.log`` has every verdict).
	option notice_connections = F;

	## Raise notices only for anomalous verdicts with at least this score
	## (0 to 1); an incident with its highest score, unless its behaviour
	## is named (evidence such as password guessing is not a score).
	option min_notice_score = 0.0;

	## Write only verdicts with at least this score to ``hamad.log`` (0 to 1;
	## 0 logs every verdict). Anomalous verdicts always reach Zeek; the others
	## below this score are not even sent by the worker (only counted), which
	## saves Zeek most of HAMAD's cost per connection. Sent to the worker on
	## every hello and change.
	option log_min_score = 0.0;

	## Suppression interval of :zeek:enum:`HAMAD::Incident`,
	## :zeek:enum:`HAMAD::Anomalous_Connection` and
	## :zeek:enum:`HAMAD::Anomalous_Host`; each notice type's
	## ``$identifier`` decides what counts as a repeat.
	option notice_suppression = 1hr;

	## Number of anomalous connections from one originator within
	## :zeek:see:`HAMAD::host_notice_window` that raises
	## :zeek:enum:`HAMAD::Anomalous_Host` (0, the default, turns it off).
	option host_notice_threshold = 0;

	## Time window of the per-host aggregation (more than 0, at most 1 day),
	## measured in connection time.
	option host_notice_window = 10min;

	## Declare the worker unavailable after this long without a heartbeat
	## (at least 1 sec; keep it above twice ``hamad serve --heartbeat-interval``).
	option heartbeat_timeout = 10sec;

	## Also send a summary of a connection that is still open each time its
	## duration passes another multiple of this (0 disables, otherwise at
	## least 1 min). Uses Zeek's connection duration thresholds, checked as
	## packets arrive: no timer per connection. Verdicts for them are
	## logged with ``interim=T``. Applies to connections that start after a
	## change.
	option interim_interval = 10min;

	## How long the worker learns this network before its verdicts raise
	## notices, in network time from the first connection it scores (0
	## turns learning off). While learning, every connection is still
	## scored and logged (``learning=T`` in ``hamad.log``); afterwards the
	## services this site uses routinely no longer raise false alarms, and
	## the worker keeps adapting slowly. The worker keeps what it learned
	## across restarts. Sent to the worker on every hello and change.
	option learning_period = 1day;

	## Raise notices for verdicts made while the worker is still learning
	## (by default they are only logged).
	option notice_while_learning = F;

	## Send what Zeek's DNS analyzer saw of a connection's queries
	## (:zeek:type:`HAMAD::DnsSummary`) with its summary, so that the
	## worker's DNS tunnelling evidence reads query names instead of
	## estimating them from bytes per packet. Needs Zeek's DNS analyzer
	## (loaded by default); costs one small record per DNS connection.
	## Applies to connections that start after a change.
	option send_dns = T;

	## What Zeek's DNS analyzer saw of one connection's queries: the
	## optional part of :zeek:type:`HAMAD::ConnSummary`.
	type DnsSummary: record {
		## Queries the analyzer parsed.
		queries: count &default=0;
		## Characters of the longest query name.
		longest: count &default=0;
		## Shannon entropy of the longest query name without its dots,
		## in bits per character (:zeek:see:`find_entropy`).
		entropy: double &default=0.0;
		## Query type of the longest query (1 = A, 16 = TXT, 10 = NULL, ...).
		qtype: count &default=0;
	};

	## What Zeek sends the worker about one connection. Field names are
	## Zeek's conn.log names with ``id.`` dropped.
	type ConnSummary: record {
		## Start of the connection, seconds since the epoch. A ``double``
		## rather than ``time`` because Zeek's WebSocket API truncates
		## ``time`` values to milliseconds.
		ts: double;
		## Connection uid (as in conn.log).
		uid: string;
		## Originator address.
		orig_h: addr;
		## Originator port.
		orig_p: port;
		## Responder address.
		resp_h: addr;
		## Responder port.
		resp_p: port;
		## Transport protocol.
		proto: transport_proto;
		## Comma-separated detected services, if any.
		service: string &optional;
		## Duration so far.
		duration: interval &optional;
		## Originator payload bytes.
		orig_bytes: count &optional;
		## Responder payload bytes.
		resp_bytes: count &optional;
		## conn.log's connection state (unset in interim summaries).
		conn_state: string &optional;
		## Originator is in :zeek:see:`Site::local_nets`.
		local_orig: bool &optional;
		## Responder is in :zeek:see:`Site::local_nets`.
		local_resp: bool &optional;
		## Bytes missed in content gaps.
		missed_bytes: count &optional;
		## conn.log's history string.
		history: string &optional;
		## Packets sent by the originator.
		orig_pkts: count &optional;
		## IP-level bytes sent by the originator.
		orig_ip_bytes: count &optional;
		## Packets sent by the responder.
		resp_pkts: count &optional;
		## IP-level bytes sent by the responder.
		resp_ip_bytes: count &optional;
		## IP protocol number.
		ip_proto: count &optional;
		## ``T`` for an interim summary of a connection that is still open.
		interim: bool &default=F;
		## Its DNS queries, when :zeek:see:`HAMAD::send_dns` is on and Zeek's
		## DNS analyzer parsed any.
		dns: DnsSummary &optional;
	};

	## The worker's judgement of one connection.
	type Verdict: record {
		## Connection uid.
		uid: string;
		## Connection start, seconds since the epoch (see ConnSummary$ts).
		ts: double;
		## Originator address.
		orig_h: addr;
		## Originator port.
		orig_p: port;
		## Responder address.
		resp_h: addr;
		## Responder port.
		resp_p: port;
		## Fused anomaly score in [0, 1].
		score: double;
		## Threshold in force when the connection was scored.
		threshold: double;
		## Whether ``score >= threshold``.
		anomalous: bool;
		## Names of the features that pushed the score up most, most first.
		top_features: vector of string;
		## The ensemble member the attention gate weighed most.
		top_model: string;
		## Version of the model that produced the verdict.
		model_version: string;
		## ``T`` if this answers an interim summary.
		interim: bool;
		## ``T`` if scored while the worker was still learning this network.
		learning: bool &default=F;
		## ``T`` if the score reached the threshold but the connection
		## belongs to a service this network uses routinely (learned), so
		## it is not anomalous.
		familiar: bool &default=F;
		## The behaviour the worker's evidence names: ``password-guessing``,
		## ``scan``, ``dns-tunnel``, ``beacon``, ``download``, ``exfiltration``,
		## ``flood``; "" if none.
		behaviour: string &default="";
		## Id of the incident an anomalous connection belongs to
		## (originator/behaviour/first second); "" if not anomalous.
		incident: string &default="";
		## Anomalous connections in the incident so far.
		incident_count: count &default=0;
		## Distinct responders in the incident so far.
		incident_peers: count &default=0;
		## First connection of the incident, seconds since the epoch.
		incident_first: double &default=0.0;
		## Highest score in the incident so far.
		incident_score: double &default=0.0;
		## The incident's first few connection uids.
		incident_uids: vector of string &default=vector();
	};

	## A summary the worker read but could not score (see
	## :zeek:see:`HAMAD::unscored`).
	type Unscored: record {
		## Connection uid.
		uid: string;
		## Connection start, seconds since the epoch (see ConnSummary$ts).
		ts: double;
		## Originator address.
		orig_h: addr;
		## Originator port.
		orig_p: port;
		## Responder address.
		resp_h: addr;
		## Responder port.
		resp_p: port;
		## ``T`` if it was an interim summary.
		interim: bool;
	};

	## The ``hamad.log`` record: a verdict, or a summary the worker could
	## not score, which has a *reason* and no score.
	type Info: record {
		## Connection start.
		ts: time &log;
		## Connection uid, to join with conn.log.
		uid: string &log;
		## Connection endpoints.
		id: conn_id &log;
		## Fused anomaly score in [0, 1]; unset if not scored.
		score: double &log &optional;
		## Threshold in force when the connection was scored.
		threshold: double &log &optional;
		## Whether ``score >= threshold``.
		anomalous: bool &log &optional;
		## The features that pushed the score up most.
		top_features: vector of string &log &optional;
		## The ensemble member the attention gate weighed most.
		top_model: string &log &optional;
		## Version of the model that produced the verdict.
		model_version: string &log &optional;
		## ``T`` for a verdict on an interim summary of an open connection.
		interim: bool &log;
		## ``T`` if scored while the worker was still learning this network.
		learning: bool &log;
		## ``T`` if not anomalous only because the connection belongs to a
		## service this network uses routinely.
		familiar: bool &log;
		## The behaviour the worker's evidence names ("" if none).
		behaviour: string &log &default="";
		## The incident an anomalous connection belongs to ("" if none).
		incident: string &log &default="";
		## In a cluster, the node whose worker scored the connection: the
		## scoring node or, sharded, the proxy that holds the originator. A
		## host moved to another shard (a proxy left or joined the pool)
		## shows another name from then on. Unset on a standalone Zeek.
		scored_by: string &log &optional;
		## Why the worker gave no verdict (``shed: worker queue full``,
		## ``scoring failed: ...``, ``dropped: the worker is stopping``);
		## unset for a verdict.
		reason: string &log &optional;
	};

	## Raised for every ``hamad.log`` write.
	global log_hamad: event(rec: Info);

	## Zeek -> worker: a batch of connection summaries.
	global conn_summaries: event(batch: vector of ConnSummary);

	## Zeek -> worker: an option the worker applies (name without
	## ``HAMAD::``, value as a string). Sent after each hello and change.
	global config_changed: event(name: string, value: string);

	## Worker -> Zeek: verdicts for earlier summaries. *withheld* more were
	## scored but not sent, because they are not anomalous and score below
	## :zeek:see:`HAMAD::log_min_score` (they would have no effect here).
	global verdicts: event(batch: vector of Verdict, withheld: count);

	## Worker -> Zeek: the worker (re)connected.
	global hello: event(worker: string, version: string, model_version: string);

	## Worker -> Zeek: liveness and the worker's counters.
	global heartbeat: event(worker: string, seq: count, received: count,
	    scored: count, shed: count);

	## Worker -> Zeek: the summaries *uids* get no verdict because the
	## worker could not read them (a script/worker mismatch); *msg* says
	## why. One event per batch and reason.
	global worker_error: event(uids: vector of string, msg: string);

	## Worker -> Zeek: the summaries in *batch* were read but get no
	## verdict (shed under overload, scoring failed, the worker is
	## stopping); *reason* says why. Each is written to ``hamad.log`` with
	## its reason. One event per batch and reason.
	global unscored: event(batch: vector of Unscored, reason: string);

	## Whether this node talks to the worker (see :zeek:see:`HAMAD::scoring_node`).
	##
	## Returns: ``T`` on a standalone Zeek and on the cluster's scoring
	## node, or on every proxy when scoring is sharded.
	global is_scoring_node: function(): bool;

	## Whether the cluster's proxies share the scoring
	## (:zeek:see:`HAMAD::shard_on_proxies`).
	##
	## Returns: ``T`` in a cluster with proxies, no
	## :zeek:see:`HAMAD::scoring_node` and sharding on.
	global sharded: function(): bool;

	## The port this node listens on for its worker.
	##
	## Returns: :zeek:see:`HAMAD::listen_port`, or on a sharded proxy its
	## :zeek:see:`HAMAD::shard_ports` entry or ``listen_port`` plus its
	## position among the proxies.
	global scoring_port: function(): port;

	## Builds the summary of a finished connection from its conn.log record:
	## what HAMAD sends the worker about it.
	##
	## c: the connection, with ``c$conn`` filled by the Conn module.
	##
	## Returns: the summary sent to the worker.
	global summary_from_conn: function(c: connection): ConnSummary;
}

# Cluster node -> scoring node: summaries of the connections a node saw, to
# be passed on to the worker. Not part of the worker contract.
global cluster_summaries: event(node: string, batch: vector of ConnSummary);

# Counters of this node: written to reporter.log when Zeek terminates and
# exported as metrics (telemetry.zeek).
type Stats: record {
	# Summaries built on this node.
	summaries_built: count &default=0;
	# Summaries this node forwarded to the scoring node (cluster).
	summaries_forwarded: count &default=0;
	# Summaries a node could not forward: sharded, and no proxy was up.
	summaries_unrouted: count &default=0;
	# Times a proxy joined or left the pool, moving hosts between shards.
	shard_changes: count &default=0;
	# Summaries the scoring node received from other nodes.
	summaries_from_cluster: count &default=0;
	# Summaries published to the worker.
	summaries_sent: count &default=0;
	# Summaries dropped because no worker was available.
	summaries_unsent: count &default=0;
	# Batches published to the worker.
	batches_sent: count &default=0;
	# Verdicts received.
	verdicts_received: count &default=0;
	# Verdicts refused as implausible (a broken or hostile peer); counted
	# in verdicts_received too, but neither logged nor noticed.
	verdicts_refused: count &default=0;
	# Answers for summaries this node never sent (counted once they exceed
	# what was sent: a worker from before a restart, or a broken peer).
	answers_unexpected: count &default=0;
	# Verdicts the worker withheld (see HAMAD::verdicts).
	verdicts_withheld: count &default=0;
	# Summaries the worker reported with HAMAD::worker_error or HAMAD::unscored.
	worker_errors: count &default=0;
	# Heartbeats received.
	heartbeats: count &default=0;
	# Times the worker said hello.
	hellos: count &default=0;
	# Times the worker was declared unavailable.
	worker_outages: count &default=0;
};

global stats = Stats();

# Hands one batch to the worker, or counts it as unsent (transport.zeek).
global send_to_worker: function(batch: vector of ConnSummary);

# Sends an option's new value to the worker once it is there (transport.zeek).
global push_config: function(name: string, value: string);

redef record connection += {
	# The connection's DNS queries so far (HAMAD::send_dns).
	hamad_dns: DnsSummary &optional;
};

# Summaries waiting to go out, and whether a flush timer is scheduled.
global pending: vector of ConnSummary = vector();
global flush_scheduled = F;

# Flushes a partial batch after max_batch_delay.
global flush_timer: event();

# The cluster's proxies in name order (a proxy's position picks its port),
# from the layout, which is fixed by zeek_init.
global proxy_names: vector of string = vector();

event zeek_init() &priority=20
	{
	for ( name, n in Cluster::nodes )
		if ( n$node_type == Cluster::PROXY )
			proxy_names += name;
	sort(proxy_names, strcmp);
	}

function sharded(): bool
	{
	return Cluster::is_enabled()
	    && shard_on_proxies
	    && scoring_node == ""
	    && |proxy_names| > 0;
	}

function is_scoring_node(): bool
	{
	if ( ! Cluster::is_enabled() )
		return T;

	if ( scoring_node != "" )
		return Cluster::node == scoring_node;

	if ( sharded() )
		return Cluster::local_node_type() == Cluster::PROXY;

	return Cluster::local_node_type() == Cluster::MANAGER;
	}

function scoring_port(): port
	{
	if ( ! sharded() || Cluster::local_node_type() != Cluster::PROXY )
		return listen_port;

	if ( Cluster::node in shard_ports )
		return shard_ports[Cluster::node];

	for ( i, name in proxy_names )
		if ( name == Cluster::node )
			return count_to_port(port_to_count(listen_port) + i, tcp);

	return listen_port;
	}

function wanted(id: conn_id): bool
	{
	if ( only_local_orig && ! Site::is_local_addr(id$orig_h) )
		return F;

	for ( sn in ignore_subnets )
		{
		if ( id$orig_h in sn || id$resp_h in sn )
			return F;
		}

	return T;
	}

function summary_from_conn(c: connection): ConnSummary
	{
	local info = c$conn;
	local s = ConnSummary($ts=time_to_double(info$ts), $uid=info$uid,
	    $orig_h=info$id$orig_h, $orig_p=info$id$orig_p,
	    $resp_h=info$id$resp_h, $resp_p=info$id$resp_p, $proto=info$proto);

	if ( info?$service )
		s$service = info$service;
	if ( info?$duration )
		s$duration = info$duration;
	if ( info?$orig_bytes )
		s$orig_bytes = info$orig_bytes;
	if ( info?$resp_bytes )
		s$resp_bytes = info$resp_bytes;
	if ( info?$conn_state )
		s$conn_state = info$conn_state;
	if ( info?$local_orig )
		s$local_orig = info$local_orig;
	if ( info?$local_resp )
		s$local_resp = info$local_resp;
	if ( info?$missed_bytes )
		s$missed_bytes = info$missed_bytes;
	if ( info?$history )
		s$history = info$history;
	if ( info?$orig_pkts )
		s$orig_pkts = info$orig_pkts;
	if ( info?$orig_ip_bytes )
		s$orig_ip_bytes = info$orig_ip_bytes;
	if ( info?$resp_pkts )
		s$resp_pkts = info$resp_pkts;
	if ( info?$resp_ip_bytes )
		s$resp_ip_bytes = info$resp_ip_bytes;
	if ( info?$ip_proto )
		s$ip_proto = info$ip_proto;
	if ( c?$hamad_dns )
		s$dns = c$hamad_dns;

	return s;
	}

function summary_of_open_conn(c: connection): ConnSummary
	{
	local s = ConnSummary($ts=time_to_double(c$start_time), $uid=c$uid,
	    $orig_h=c$id$orig_h, $orig_p=c$id$orig_p, $resp_h=c$id$resp_h,
	    $resp_p=c$id$resp_p, $proto=get_port_transport_proto(c$id$resp_p),
	    $duration=c$duration, $orig_bytes=c$orig$size,
	    $resp_bytes=c$resp$size, $local_orig=Site::is_local_addr(
	    c$id$orig_h), $local_resp=Site::is_local_addr(c$id$resp_h),
	    $history=c$history, $interim=T);

	if ( |c$service| > 0 )
		s$service = join_string_set(c$service, ",");
	if ( c$orig?$num_pkts )
		s$orig_pkts = c$orig$num_pkts;
	if ( c$orig?$num_bytes_ip )
		s$orig_ip_bytes = c$orig$num_bytes_ip;
	if ( c$resp?$num_pkts )
		s$resp_pkts = c$resp$num_pkts;
	if ( c$resp?$num_bytes_ip )
		s$resp_ip_bytes = c$resp$num_bytes_ip;
	if ( c?$conn && c$conn?$missed_bytes )
		s$missed_bytes = c$conn$missed_bytes;
	s$ip_proto = c$id$proto;
	if ( c?$hamad_dns )
		s$dns = c$hamad_dns;

	return s;
	}

# Sharded: each summary to the proxy HRW assigns its originator, one event
# per proxy and batch (what Cluster::publish_hrw does per summary).
function forward_to_shards(batch: vector of ConnSummary)
	{
	local by_topic: table[string] of vector of ConnSummary;
	for ( _, s in batch )
		{
		local topic = Cluster::hrw_topic(Cluster::proxy_pool, s$orig_h);
		if ( topic == "" )
			{
			++stats$summaries_unrouted;
			next;
			}

		if ( topic !in by_topic )
			by_topic[topic] = vector();
		by_topic[topic] += s;
		}

	for ( shard, part in by_topic )
		{
		stats$summaries_forwarded += |part|;
		Cluster::publish(shard, cluster_summaries, Cluster::node, part);
		}
	}

# Sends the queued summaries: to the worker on the scoring node, to the
# scoring node (or the shards) from any other cluster node.
function flush()
	{
	if ( |pending| == 0 )
		return;

	local batch = pending;
	pending = vector();

	if ( is_scoring_node() )
		{
		send_to_worker(batch);
		return;
		}

	if ( sharded() )
		{
		forward_to_shards(batch);
		return;
		}

	local topic = scoring_node == "" ? Cluster::manager_topic :
	    Cluster::node_topic(scoring_node);
	stats$summaries_forwarded += |batch|;
	Cluster::publish(topic, cluster_summaries, Cluster::node, batch);
	}

event HAMAD::flush_timer()
	{
	flush_scheduled = F;
	flush();
	}

function enqueue_summary(s: ConnSummary)
	{
	pending += s;

	if ( |pending| >= batch_size )
		flush();
	# Reading a trace, network time races ahead: a delay in trace time only
	# makes batches small. Full batches go out, the rest when the trace ends.
	else if ( ! flush_scheduled && ! reading_traces() )
		{
		flush_scheduled = T;
		schedule max_batch_delay { HAMAD::flush_timer() };
		}
	}

# A proxy joining or leaving the pool moves hosts between shards: counted
# on every node, and said once in reporter.log (by the manager).
function count_shard_change(name: string, what: string)
	{
	if ( ! sharded()
	    || name !in Cluster::nodes
	    || Cluster::nodes[name]$node_type != Cluster::PROXY )
		return;

	++stats$shard_changes;
	if ( Cluster::local_node_type() == Cluster::MANAGER )
		Reporter::info(fmt("HAMAD: proxy %s %s the pool; the hosts HRW "
		    + "assigns it move between shards (hamad.log scored_by)", name, what));
	}

event Cluster::node_up(name: string, id: string)
	{
	count_shard_change(name, "joined");
	}

event Cluster::node_down(name: string, id: string)
	{
	count_shard_change(name, "left");
	}

event HAMAD::cluster_summaries(node: string, batch: vector of ConnSummary)
	{
	if ( ! is_scoring_node() )
		return;

	stats$summaries_from_cluster += |batch|;
	for ( _, s in batch )
		enqueue_summary(s);
	}

# Option validation. A change handler returns the value to keep; the current
# value is still in the global, so returning it refuses the change. Each
# handler names its option: the rules differ, and so does what the worker
# must hear of a change.

# Warns about a refused change, with where it came from (a config file and
# line; empty for Option::set in a script), and returns F.
function refuse(ID: string, rule: string, v: any, kept: any, loc: string): bool
	{
	local from = loc == "" ? "" : fmt(" (%s)", loc);
	Reporter::warning(fmt("HAMAD: %s must be %s, got %s%s; keeping %s", ID, rule, v,
	    from, kept));
	return F;
	}

function unit_interval(ID: string, v: double, kept: double, loc: string): bool
	{
	return ( v >= 0.0 && v <= 1.0 ) || refuse(ID, "within [0, 1]", v, kept, loc);
	}

function set_threshold_override(ID: string, v: double, loc: string): double
	{
	if ( ! unit_interval(ID, v, threshold_override, loc) )
		return threshold_override;

	push_config("threshold_override", cat(v));
	return v;
	}

function set_log_min_score(ID: string, v: double, loc: string): double
	{
	if ( ! unit_interval(ID, v, log_min_score, loc) )
		return log_min_score;

	push_config("log_min_score", cat(v));
	return v;
	}

function set_min_notice_score(ID: string, v: double, loc: string): double
	{
	if ( ! unit_interval(ID, v, min_notice_score, loc) )
		return min_notice_score;

	return v;
	}

function set_batch_size(ID: string, v: count, loc: string): count
	{
	if ( ( v < 1 || v > 10000 )
	    && ! refuse(ID, "within [1, 10000]", v, batch_size, loc) )
		return batch_size;

	return v;
	}

function set_incident_min_connections(ID: string, v: count, loc: string): count
	{
	if ( v < 1 && ! refuse(ID, "at least 1", v, incident_min_connections, loc) )
		return incident_min_connections;

	return v;
	}

function set_max_batch_delay(ID: string, v: interval, loc: string): interval
	{
	if ( ( v <= 0secs || v > 1min )
	    && ! refuse(ID, "more than 0 and at most 1 min", v, max_batch_delay, loc) )
		return max_batch_delay;

	return v;
	}

function set_notice_suppression(ID: string, v: interval, loc: string): interval
	{
	if ( v < 0secs
	    && ! refuse(ID, "at least 0 secs", v, notice_suppression, loc) )
		return notice_suppression;

	return v;
	}

function set_host_notice_window(ID: string, v: interval, loc: string): interval
	{
	if ( ( v <= 0secs || v > 1day )
	    && ! refuse(ID, "more than 0 and at most 1 day", v, host_notice_window, loc) )
		return host_notice_window;

	return v;
	}

function set_heartbeat_timeout(ID: string, v: interval, loc: string): interval
	{
	if ( v < 1sec && ! refuse(ID, "at least 1 sec", v, heartbeat_timeout, loc) )
		return heartbeat_timeout;

	return v;
	}

function set_interim_interval(ID: string, v: interval, loc: string): interval
	{
	if ( v > 0secs
	    && v < 1min
	    && ! refuse(ID, "0 or at least 1 min", v, interim_interval, loc) )
		return interim_interval;

	return v;
	}

function set_learning_period(ID: string, v: interval, loc: string): interval
	{
	if ( v < 0secs && ! refuse(ID, "at least 0 secs", v, learning_period, loc) )
		return learning_period;

	push_config("learning_period", fmt("%f", interval_to_double(v)));
	return v;
	}

event zeek_init() &priority=5
	{
	Log::create_stream(HAMAD::LOG, Log::Stream($columns=Info, $ev=log_hamad,
	    $path="hamad", $policy=log_policy));

	Option::set_change_handler("HAMAD::threshold_override",
	    set_threshold_override);
	Option::set_change_handler("HAMAD::log_min_score", set_log_min_score);
	Option::set_change_handler("HAMAD::min_notice_score", set_min_notice_score);
	Option::set_change_handler("HAMAD::batch_size", set_batch_size);
	Option::set_change_handler("HAMAD::incident_min_connections",
	    set_incident_min_connections);
	Option::set_change_handler("HAMAD::max_batch_delay", set_max_batch_delay);
	Option::set_change_handler("HAMAD::notice_suppression",
	    set_notice_suppression);
	Option::set_change_handler("HAMAD::host_notice_window",
	    set_host_notice_window);
	Option::set_change_handler("HAMAD::heartbeat_timeout", set_heartbeat_timeout);
	Option::set_change_handler("HAMAD::interim_interval", set_interim_interval);
	Option::set_change_handler("HAMAD::learning_period", set_learning_period);
	}

# Interim summaries ride on Zeek's connection duration thresholds, which the
# ConnSize analyzer checks as packets arrive: no timer and no reference per
# connection. The ConnThreshold framework multiplexes thresholds for scripts
# that share a connection, at a cost of a record and several calls per
# connection; HAMAD uses it only on connections where some script already
# does, and Zeek's single per-connection threshold directly otherwise.
function watch_duration(c: connection, threshold: interval)
	{
	if ( c?$thresholds )
		ConnThreshold::set_duration_threshold(c, threshold);
	else
		set_current_conn_duration_threshold(c$id, threshold);
	}

event new_connection(c: connection) &priority=-10
	{
	if ( enabled && interim_interval > 0secs )
		watch_duration(c, interim_interval);
	}

event conn_duration_threshold_crossed(c: connection, threshold: interval,
    is_orig: bool)
	{
	if ( ! enabled || interim_interval == 0secs )
		return;

	# Ours are the multiples of interim_interval; another script's threshold
	# may have displaced ours, so the next one is armed either way.
	local k = threshold / interim_interval;
	if ( k >= 1.0 && floor(k) == k && wanted(c$id) )
		{
		++stats$summaries_built;
		enqueue_summary(summary_of_open_conn(c));
		}

	watch_duration(c, interim_interval * ( floor(c$duration / interim_interval) + 1 ));
	}

event dns_request(c: connection, msg: dns_msg, query: string, qtype: count,
    qclass: count)
	{
	if ( ! enabled || ! send_dns )
		return;

	if ( ! c?$hamad_dns )
		c$hamad_dns = DnsSummary();

	local d = c$hamad_dns;
	++d$queries;
	if ( |query| > d$longest )
		{
		d$longest = |query|;
		d$entropy = find_entropy(gsub(query, /\./, ""))$entropy;
		d$qtype = qtype;
		}
	}

# After Conn filled c$conn (priority 5), before it is logged (-5).
event connection_state_remove(c: connection) &priority=-3
	{
	if ( ! enabled || ! c?$conn || ! wanted(c$id) )
		return;

	++stats$summaries_built;
	enqueue_summary(summary_from_conn(c));
	}

# The rest of the module: loaded from here so that ``@load hamad/main`` alone
# is the whole pipeline (each also loads this file, for ``zeek -a`` on it).
@load ./transport
@load ./notice
