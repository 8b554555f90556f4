##! HAMAD: machine-learning anomaly scores for the connections Zeek sees.
##!
##! When a connection ends, this script condenses its :zeek:type:`Conn::Info`
##! into a :zeek:type:`HAMAD::ConnSummary` and hands it to the transport
##! (``transport.zeek``), which sends batches of summaries to the external
##! HAMAD worker (``hamad serve``). The worker answers with
##! :zeek:type:`HAMAD::Verdict` records, which ``notice.zeek`` writes to
##! ``hamad.log`` and turns into notices. During live capture Zeek never waits
##! for the worker: while it is missing, summaries are counted as unsent and a
##! single :zeek:enum:`HAMAD::Worker_Unavailable` notice is raised.
##!
##! Both sides must agree on the record layouts and event names below; the
##! worker's ``hamad_plugin/transport`` checks them in its contract test.

@load base/misc/version
@load base/frameworks/notice
@load base/frameworks/config
@load base/protocols/conn
@load base/protocols/conn/polling
@load base/utils/site

module HAMAD;

export {
	## The ``hamad.log`` stream: one line per verdict.
	redef enum Log::ID += { LOG };

	## A default logging policy hook for the stream.
	global log_policy: Log::PolicyHook;

	redef enum Notice::Type += {
		## The worker scored a connection as anomalous with a score of at
		## least :zeek:see:`HAMAD::min_notice_score`. The identifier is
		## originator, responder and responder port, so repeats between the
		## same pair of hosts on one service are suppressed for
		## :zeek:see:`HAMAD::notice_suppression`.
		Anomalous_Connection,
		## One originator had :zeek:see:`HAMAD::host_notice_threshold`
		## anomalous connections within :zeek:see:`HAMAD::host_notice_window`.
		## The identifier is the originator's address.
		Anomalous_Host,
		## The worker did not say hello, or stopped sending heartbeats for
		## :zeek:see:`HAMAD::heartbeat_timeout`. Raised once per outage
		## (identifier ``hamad-worker``); summaries are counted as unsent
		## until the worker is back.
		Worker_Unavailable,
	};

	## Score connections at all. With ``F`` no summaries are built or sent.
	option enabled = T;

	## How Zeek talks to the worker: ``"broker"`` (Zeek 7.0 and later;
	## ``hamad serve --transport broker``) or ``"websocket"`` (Zeek 8.0 and
	## later; requires ``@load hamad/websocket``, which also sets this).
	## Read at startup only.
	option transport = "broker";

	## Address Zeek listens on for the worker (Broker or WebSocket). Keep
	## 127.0.0.1 unless the worker runs on another host. Read at startup only.
	option listen_addr = 127.0.0.1;

	## Port Zeek listens on for the worker. Read at startup only.
	option listen_port = 47761/tcp;

	## Topic prefix: Zeek publishes on ``<prefix>/summaries`` and the worker
	## on ``<prefix>/verdicts``. Must match ``hamad serve --topic-prefix``.
	## Read at startup only.
	option topic_prefix = "hamad";

	## Send a batch as soon as it holds this many summaries (1 to 10000).
	option batch_size = 100;

	## Send a partial batch after at most this long (more than 0, at most 1 min).
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

	## Raise :zeek:enum:`HAMAD::Anomalous_Connection` only for anomalous
	## verdicts with at least this score (0 to 1).
	option min_notice_score = 0.0;

	## Write only verdicts with at least this score to ``hamad.log`` (0 to 1;
	## 0 logs every verdict).
	option log_min_score = 0.0;

	## Suppression interval of HAMAD's notices; each notice type's
	## ``$identifier`` decides what counts as a repeat.
	option notice_suppression = 1hr;

	## Number of anomalous connections from one originator within
	## :zeek:see:`HAMAD::host_notice_window` that raises
	## :zeek:enum:`HAMAD::Anomalous_Host` (at least 1).
	option host_notice_threshold = 5;

	## Time window of the per-host aggregation (more than 0, at most 1 day),
	## measured in connection time.
	option host_notice_window = 10min;

	## Declare the worker unavailable after this long without a heartbeat
	## (at least 1 sec; keep it above twice ``hamad serve --heartbeat-interval``).
	option heartbeat_timeout = 10sec;

	## Also send a summary of connections that are still open every this
	## often (0 disables, otherwise at least 1 min). Verdicts for them are
	## logged with ``interim=T``. Each watched connection costs one timer.
	option interim_interval = 10min;

	## With ``zeek -r``: hold packet processing until the worker says hello,
	## and after the trace wait for outstanding verdicts before terminating.
	option wait_for_worker = T;

	## With ``zeek -r``: how long to wait for the worker's hello (wall clock).
	option startup_wait = 30sec;

	## With ``zeek -r``: how long to wait for outstanding verdicts after the
	## trace ended (wall clock).
	option verdict_wait = 30sec;

	## A local TCP port on which nothing listens. With ``zeek -r`` Zeek peers
	## there while it waits, because Broker's once-per-second retry errors
	## are the only clock that keeps ticking while packet processing is
	## suspended. The retry errors also appear in broker.log.
	option wait_clock_port = 47760/tcp;

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
		## IP protocol number (Zeek 8 and later).
		ip_proto: count &optional;
		## ``T`` for an interim summary of a connection that is still open.
		interim: bool &default=F;
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
		## Names of the features that pushed the score up most.
		top_features: vector of string;
		## Their contributions, in the same order.
		top_contributions: vector of double;
		## The ensemble member the attention gate weighed most.
		top_model: string;
		## Version of the model that produced the verdict.
		model_version: string;
		## ``T`` if this answers an interim summary.
		interim: bool;
	};

	## The ``hamad.log`` record.
	type Info: record {
		## Connection start.
		ts: time &log;
		## Connection uid, to join with conn.log.
		uid: string &log;
		## Connection endpoints.
		id: conn_id &log;
		## Fused anomaly score in [0, 1].
		score: double &log;
		## Threshold in force when the connection was scored.
		threshold: double &log;
		## Whether ``score >= threshold``.
		anomalous: bool &log;
		## The features that pushed the score up most.
		top_features: vector of string &log;
		## The ensemble member the attention gate weighed most.
		top_model: string &log;
		## Version of the model that produced the verdict.
		model_version: string &log;
		## ``T`` for a verdict on an interim summary of an open connection.
		interim: bool &log;
	};

	## Raised for every ``hamad.log`` write.
	global log_hamad: event(rec: Info);

	## Zeek -> worker: a batch of connection summaries.
	global conn_summaries: event(batch: vector of ConnSummary);

	## Zeek -> worker: an option the worker applies (name without
	## ``HAMAD::``, value as a string). Sent after each hello and change.
	global config_changed: event(name: string, value: string);

	## Worker -> Zeek: verdicts for earlier summaries.
	global verdicts: event(batch: vector of Verdict);

	## Worker -> Zeek: the worker (re)connected.
	global hello: event(worker: string, version: string, model_version: string);

	## Worker -> Zeek: liveness and the worker's counters.
	global heartbeat: event(worker: string, seq: count, received: count,
	    scored: count, shed: count);

	## Worker -> Zeek: the summary *uid* gets no verdict (malformed, shed
	## under overload or failed to score); *msg* says why.
	global worker_error: event(uid: string, msg: string);

	## Builds the summary of a finished connection from its conn.log record.
	##
	## c: the connection, with ``c$conn`` filled by the Conn module.
	##
	## Returns: the summary sent to the worker.
	global summary_from_conn: function(c: connection): ConnSummary;

	## Builds an interim summary of a connection that is still open.
	##
	## c: the connection.
	##
	## Returns: the summary, with ``interim=T`` and no ``conn_state``.
	global summary_of_open_conn: function(c: connection): ConnSummary;

	## Whether a connection passes :zeek:see:`HAMAD::ignore_subnets` and
	## :zeek:see:`HAMAD::only_local_orig`.
	##
	## id: the connection's endpoints.
	##
	## Returns: ``T`` if the connection should be scored.
	global wanted: function(id: conn_id): bool;

	## Queues a summary for the worker (implemented in ``transport.zeek``).
	##
	## s: the summary.
	global enqueue_summary: function(s: ConnSummary);

	## Sends an option value to the worker (implemented in ``transport.zeek``).
	##
	## name: option name without the module.
	##
	## value: the value as a string.
	global push_config: function(name: string, value: string);
}

# T once zeek_init ran; later changes of startup-only options are refused.
global initialized = F;

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
@if ( Version::at_least("8.0") )
	if ( info?$ip_proto )
		s$ip_proto = info$ip_proto;
@endif

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
@if ( Version::at_least("8.0") )
	s$ip_proto = c$id$proto;
@endif

	return s;
	}

# ConnPolling callback: an interim summary every interim_interval.
function interim_poll(c: connection, cnt: count): interval
	{
	if ( ! enabled || interim_interval == 0secs )
		return -1secs;

	if ( wanted(c$id) )
		enqueue_summary(summary_of_open_conn(c));

	return interim_interval;
	}

# Option validation. A change handler sees the old value in the global and
# returns the value to store, so returning the global keeps the old value.

function startup_only_string(ID: string, new_value: string): string
	{
	if ( ! initialized )
		return new_value;

	Reporter::warning(fmt(
	    "HAMAD: %s is read at startup only; restart Zeek to change it to '%s'", ID,
	    new_value));
	return ID == "HAMAD::transport" ? transport : topic_prefix;
	}

function check_transport(ID: string, new_value: string): string
	{
	if ( new_value != "broker" && new_value != "websocket" )
		{
		Reporter::warning(fmt("HAMAD: %s must be \"broker\" or \"websocket\", got '%s'; keeping '%s'",
		    ID, new_value, transport));
		return transport;
		}

	return startup_only_string(ID, new_value);
	}

function startup_only_addr(ID: string, new_value: addr): addr
	{
	if ( initialized )
		{
		Reporter::warning(fmt(
		    "HAMAD: %s is read at startup only; restart Zeek to use %s", ID,
		    new_value));
		return listen_addr;
		}

	return new_value;
	}

function startup_only_port(ID: string, new_value: port): port
	{
	if ( initialized )
		{
		Reporter::warning(fmt(
		    "HAMAD: %s is read at startup only; restart Zeek to use %s", ID,
		    new_value));
		return ID == "HAMAD::listen_port" ? listen_port : wait_clock_port;
		}

	return new_value;
	}

# The current value of a double option, for "keep the old value".
function double_option(ID: string): double
	{
	switch ( ID )
		{
		case "HAMAD::threshold_override":
			return threshold_override;
		case "HAMAD::min_notice_score":
			return min_notice_score;
		default:
			return log_min_score;
		}
	}

function check_unit_double(ID: string, new_value: double): double
	{
	if ( new_value < 0.0 || new_value > 1.0 )
		{
		Reporter::warning(fmt("HAMAD: %s must be within [0, 1], got %s; keeping %s", ID,
		    new_value, double_option(ID)));
		return double_option(ID);
		}

	if ( ID == "HAMAD::threshold_override" && initialized )
		push_config("threshold_override", fmt("%s", new_value));

	return new_value;
	}

function check_count(ID: string, new_value: count): count
	{
	local lo = 1;
	local hi = ID == "HAMAD::batch_size" ? 10000 : 1000000;
	local old = ID == "HAMAD::batch_size" ? batch_size : host_notice_threshold;

	if ( new_value < lo || new_value > hi )
		{
		Reporter::warning(fmt("HAMAD: %s must be within [%d, %d], got %d; keeping %d", ID, lo,
		    hi, new_value, old));
		return old;
		}

	return new_value;
	}

# The current value of an interval option, for "keep the old value".
function interval_option(ID: string): interval
	{
	switch ( ID )
		{
		case "HAMAD::max_batch_delay":
			return max_batch_delay;
		case "HAMAD::notice_suppression":
			return notice_suppression;
		case "HAMAD::host_notice_window":
			return host_notice_window;
		case "HAMAD::heartbeat_timeout":
			return heartbeat_timeout;
		case "HAMAD::interim_interval":
			return interim_interval;
		case "HAMAD::startup_wait":
			return startup_wait;
		default:
			return verdict_wait;
		}
	}

function check_interval(ID: string, new_value: interval): interval
	{
	local ok = new_value >= 0secs;

	switch ( ID )
		{
		case "HAMAD::max_batch_delay":
			ok = new_value > 0secs && new_value <= 1min;
			break;
		case "HAMAD::host_notice_window":
			ok = new_value > 0secs && new_value <= 1day;
			break;
		case "HAMAD::heartbeat_timeout":
			ok = new_value >= 1sec;
			break;
		case "HAMAD::interim_interval":
			ok = new_value == 0secs || new_value >= 1min;
			break;
		}

	if ( ! ok )
		{
		Reporter::warning(fmt("HAMAD: %s=%s is out of range (see its documentation); keeping %s",
		    ID, new_value, interval_option(ID)));
		return interval_option(ID);
		}

	return new_value;
	}

event zeek_init() &priority=5
	{
	Log::create_stream(HAMAD::LOG, Log::Stream($columns=Info, $ev=log_hamad,
	    $path="hamad", $policy=log_policy));

	Option::set_change_handler("HAMAD::transport", check_transport);
	Option::set_change_handler("HAMAD::topic_prefix", startup_only_string);
	Option::set_change_handler("HAMAD::listen_addr", startup_only_addr);
	Option::set_change_handler("HAMAD::listen_port", startup_only_port);
	Option::set_change_handler("HAMAD::wait_clock_port", startup_only_port);
	Option::set_change_handler("HAMAD::threshold_override", check_unit_double);
	Option::set_change_handler("HAMAD::min_notice_score", check_unit_double);
	Option::set_change_handler("HAMAD::log_min_score", check_unit_double);
	Option::set_change_handler("HAMAD::batch_size", check_count);
	Option::set_change_handler("HAMAD::host_notice_threshold", check_count);
	Option::set_change_handler("HAMAD::max_batch_delay", check_interval);
	Option::set_change_handler("HAMAD::notice_suppression", check_interval);
	Option::set_change_handler("HAMAD::host_notice_window", check_interval);
	Option::set_change_handler("HAMAD::heartbeat_timeout", check_interval);
	Option::set_change_handler("HAMAD::interim_interval", check_interval);
	Option::set_change_handler("HAMAD::startup_wait", check_interval);
	Option::set_change_handler("HAMAD::verdict_wait", check_interval);

	if ( transport != "broker" && transport != "websocket" )
		Reporter::fatal(fmt("HAMAD: transport must be \"broker\" or \"websocket\", got '%s'",
		    transport));
	}

event zeek_init() &priority=-10
	{
	initialized = T;
	}

event new_connection(c: connection)
	{
	if ( enabled && interim_interval > 0secs )
		ConnPolling::watch(c, interim_poll, 0, interim_interval);
	}

# After Conn filled c$conn (priority 5), before it is logged (-5).
event connection_state_remove(c: connection) &priority=-3
	{
	if ( ! enabled || ! c?$conn || ! wanted(c$id) )
		return;

	enqueue_summary(summary_from_conn(c));
	}
