##! Moves summaries to the HAMAD worker and its answers back.
##!
##! Only the scoring node (:zeek:see:`HAMAD::is_scoring_node`) does any of
##! this: it listens (Broker or WebSocket, per :zeek:see:`HAMAD::transport`
##! and the cluster backend, see :zeek:see:`HAMAD::active_transport`),
##! the worker connects, summaries are published on ``<prefix>/summaries``
##! and the worker publishes verdicts, hello, heartbeats and errors on
##! ``<prefix>/verdicts``. Every other cluster node only forwards its
##! summaries to the scoring node (``main.zeek``). A node that cannot listen
##! (port in use, a second ``zeek -r`` in parallel) keeps running without
##! scoring and raises :zeek:enum:`HAMAD::Worker_Unavailable`; check mode
##! (``zeekctl check``) never listens.
##!
##! Liveness: the worker is usable from its ``HAMAD::hello`` until no
##! heartbeat arrived for :zeek:see:`HAMAD::heartbeat_timeout`. While it is
##! unusable, summaries are dropped and counted in
##! :zeek:see:`HAMAD::stats` (``summaries_unsent``), and one
##! :zeek:enum:`HAMAD::Worker_Unavailable` notice is raised per outage.
##!
##! Reading a trace (``zeek -r``) with :zeek:see:`HAMAD::wait_for_worker`:
##! packet processing is suspended until the worker's hello. Zeek keeps
##! running after the trace while it listens (a listening Broker endpoint or
##! WebSocket server counts as one of Zeek's I/O sources), and HAMAD ends
##! the run itself unless :zeek:id:`exit_only_after_terminate` says the
##! user's scripts do. At the end of
##! the trace the connections still open are expired through Zeek's normal
##! path (their inactivity timeout is set to have passed, so conn.log and the
##! other logs hold what they would without HAMAD), their summaries are sent,
##! and Zeek waits up to :zeek:see:`HAMAD::verdict_wait` for the outstanding
##! verdicts before it terminates. While suspended and after the trace,
##! network time stands still and timers do not fire (and a ``when`` timeout
##! must not be used: it never fires while suspended). The wall clock HAMAD
##! watches then is Zeek's main loop itself: a pending timer bounds how long
##! the loop sleeps, and each pass raises :zeek:id:`event_queue_flush_point`,
##! handled only while HAMAD waits (event group ``hamad-clock``).

@load base/frameworks/broker
@load base/frameworks/cluster
@load base/frameworks/notice
@load ./main

module HAMAD;

export {
	## Whether a worker said hello and its heartbeats are recent.
	##
	## Returns: ``T`` if summaries are being sent.
	global worker_available: function(): bool;

	## The transport this node uses: :zeek:see:`HAMAD::transport`, with
	## :zeek:enum:`HAMAD::TRANSPORT_AUTO` decided by the cluster backend.
	## Known from ``zeek_init`` on, when the backend is settled.
	##
	## Returns: :zeek:enum:`HAMAD::TRANSPORT_BROKER` or
	## :zeek:enum:`HAMAD::TRANSPORT_WEBSOCKET`.
	global active_transport: function(): Transport;
}

# Live mode: periodic liveness check of the worker.
global check_worker: event();
# Bounds how long the main loop sleeps while HAMAD waits (never fires while
# network time stands still; harmless when it does).
global clock_wake: event();

# Whether this node listens for the worker (set in zeek_init).
global listening = F;
# Whether the worker said hello and was not declared unavailable since.
global worker_ready = F;
# Wall-clock time of the last hello, heartbeat or verdict.
global last_seen: time = double_to_time(0.0);
# zeek -r: the run waits for the worker and ends itself.
global trace_mode = F;
# zeek -r: suspended until the worker's hello, with a wall-clock deadline.
global waiting_for_hello = F;
global hello_deadline: time = double_to_time(0.0);
# zeek -r: the trace ended; open connections expire and verdicts come back.
global draining = F;
global drain_deadline: time = double_to_time(0.0);
# zeek -r: connections still open, by uid (only tracked in trace_mode).
global open_conns: table[string] of conn_id;
# Whether the main-loop clock runs and a clock_wake timer is pending.
global clock_running = F;
global wake_pending = F;
# Whether finish() ran.
global finished = F;

# The topic prefix of this scoring node: HAMAD::topic_prefix, and on a proxy
# that shares the scoring with others that plus its port ("hamad/47762"). A
# ZeroMQ cluster is one publish/subscribe fabric, so shards sharing topics
# would each receive every shard's summaries and verdicts.
function node_topic_prefix(): string
	{
	if ( sharded() && |proxy_names| > 1 )
		return fmt("%s/%d", topic_prefix, port_to_count(scoring_port()));

	return topic_prefix;
	}

# Topic Zeek publishes summaries and config on.
function summaries_topic(): string
	{
	return node_topic_prefix() + "/summaries";
	}

# Topic the worker publishes on.
function verdicts_topic(): string
	{
	return node_topic_prefix() + "/verdicts";
	}

function active_transport(): Transport
	{
	if ( transport != TRANSPORT_AUTO )
		return transport;

	# A Broker cluster, or a standalone Zeek without a backend, peers over
	# Broker; any other backend (ZeroMQ) runs the WebSocket API, and its
	# nodes do not peer over Broker at all.
@if ( Version::at_least("8.1") )
	if ( Cluster::backend == Cluster::CLUSTER_BACKEND_BROKER
	    || Cluster::backend == Cluster::CLUSTER_BACKEND_NONE )
		return TRANSPORT_BROKER;
@else
	# 8.0 has no CLUSTER_BACKEND_NONE: a standalone 8.0 runs the Broker backend.
	if ( Cluster::backend == Cluster::CLUSTER_BACKEND_BROKER )
		return TRANSPORT_BROKER;
@endif
	return TRANSPORT_WEBSOCKET;
	}

# What ``hamad serve --transport`` calls it, for messages.
function transport_name(): string
	{
	return active_transport() == TRANSPORT_WEBSOCKET ? "websocket" : "broker";
	}

function worker_available(): bool
	{
	return worker_ready;
	}

# Summaries that still expect a verdict or an error.
function outstanding(): int
	{
	local sent: int = stats$summaries_sent;
	local answered: int = stats$verdicts_received + stats$verdicts_withheld +
	    stats$worker_errors;
	return sent - answered;
	}

# More answers than summaries sent: the surplus answers summaries this Zeek
# never sent (a worker still answering a Zeek from before a restart, or a
# broken peer). Warned about, first in full, then per 10,000.
function check_answers()
	{
	local o = outstanding();
	if ( o >= 0 )
		return;
	local before = stats$answers_unexpected;
	stats$answers_unexpected = double_to_count(-1.0 * o);
	if ( before == 0 || before / 10000 != stats$answers_unexpected / 10000 )
		Reporter::warning(fmt("HAMAD: the worker answered %d summaries this Zeek "
		    + "did not send (unknown uids)", stats$answers_unexpected));
	}

# The Broker transport uses Broker's own API (available whatever the cluster
# backend); the WebSocket transport the cluster API that Zeek's WebSocket
# server is part of.
function publish_summaries(batch: vector of ConnSummary)
	{
	if ( active_transport() == TRANSPORT_WEBSOCKET )
		Cluster::publish(summaries_topic(), conn_summaries, batch);
	else
		Broker::publish(summaries_topic(), conn_summaries, batch);
	}

function publish_config(name: string, value: string)
	{
	if ( active_transport() == TRANSPORT_WEBSOCKET )
		Cluster::publish(summaries_topic(), config_changed, name, value);
	else
		Broker::publish(summaries_topic(), config_changed, name, value);
	}

function send_to_worker(batch: vector of ConnSummary)
	{
	if ( ! worker_ready )
		{
		stats$summaries_unsent += |batch|;
		return;
		}

	publish_summaries(batch);
	stats$summaries_sent += |batch|;
	++stats$batches_sent;
	}

function push_config(name: string, value: string)
	{
	if ( worker_ready )
		publish_config(name, value);
	}

function start_clock()
	{
	clock_running = T;
	enable_event_group("hamad-clock");
	if ( ! wake_pending )
		{
		wake_pending = T;
		schedule 250msec { HAMAD::clock_wake() };
		}
	}

function stop_clock()
	{
	clock_running = F;
	disable_event_group("hamad-clock");
	}

event HAMAD::clock_wake()
	{
	wake_pending = F;
	if ( clock_running )
		start_clock();
	}

function report_stats()
	{
	# Nothing happened (check mode, a node without traffic that never listened).
	if ( ! listening && stats$summaries_built == 0 )
		return;

	if ( ! is_scoring_node() )
		{
		local fwd = fmt("summaries built=%d forwarded to the scoring node=%d",
		    stats$summaries_built, stats$summaries_forwarded);
		local shards = fmt("unrouted=%d; shard changes=%d", stats$summaries_unrouted,
		    stats$shard_changes);
		Reporter::info(fmt("HAMAD: %s %s", fwd, shards));
		return;
		}

	local sent = fmt(
	    "summaries built=%d from cluster=%d sent=%d unsent=%d in %d batches",
	    stats$summaries_built, stats$summaries_from_cluster,
	    stats$summaries_sent, stats$summaries_unsent, stats$batches_sent);
	local got = fmt("verdicts=%d withheld=%d worker_errors=%d outstanding=%d",
	    stats$verdicts_received, stats$verdicts_withheld,
	    stats$worker_errors, outstanding());
	local live = fmt("heartbeats=%d outages=%d", stats$heartbeats,
	    stats$worker_outages);
	Reporter::info(fmt("HAMAD: %s; %s; %s", sent, got, live));
	}

# Ends a zeek -r run (HAMAD's listening endpoint holds it open).
function finish()
	{
	if ( finished )
		return;

	finished = T;
	stop_clock();
	if ( outstanding() > 0 )
		Reporter::warning(fmt(
		    "HAMAD: terminating with %d summaries still without a verdict",
		    outstanding()));
	if ( ! exit_only_after_terminate )
		terminate();
	}

function declare_unavailable(why: string)
	{
	if ( worker_ready || stats$worker_outages == 0 )
		{
		++stats$worker_outages;
		local how = fmt("hamad serve --transport %s --port %d", transport_name(),
		    port_to_count(scoring_port()));
		# Not hamad serve's default prefix: say which.
		if ( node_topic_prefix() != "hamad" )
			how += fmt(" --topic-prefix %s", node_topic_prefix());
		Reporter::warning(fmt(
		    "HAMAD: worker unavailable (%s); no scoring until it is back. "
		    + "Start it with '%s'.", why, how));
		# One notice per outage; a worker that keeps coming and going
		# raises one per notice_suppression.
		NOTICE(Notice::Info($note=Worker_Unavailable, $msg=fmt(
		    "HAMAD worker unavailable: %s", why), $sub=fmt(
		    "transport=%s listen=%s:%s", transport_name(), listen_addr,
		    scoring_port()), $identifier=fmt("%s:%s", listen_addr,
		    scoring_port()), $suppress_for=notice_suppression));
		}

	worker_ready = F;
	}

# Runs on every clock source: heartbeats, verdicts, errors and, while HAMAD
# waits in a zeek -r run, every pass of the main loop. Compares wall-clock
# deadlines.
function tick()
	{
	local now = current_time();

	if ( waiting_for_hello && now >= hello_deadline )
		{
		waiting_for_hello = F;
		stop_clock();
		declare_unavailable(fmt("no hello within %s", startup_wait));
		continue_processing();
		}

	if ( worker_ready && now - last_seen > heartbeat_timeout )
		declare_unavailable(fmt("no heartbeat for %s", now - last_seen));

	if ( draining )
		{
		if ( |open_conns| == 0 )
			flush();

		if ( ( |open_conns| == 0 && |pending| == 0 && outstanding() <= 0 )
		    || ! worker_ready
		    || now >= drain_deadline )
			finish();
		}
	}

event event_queue_flush_point() &group="hamad-clock"
	{
	if ( clock_running )
		tick();
	}

event HAMAD::check_worker()
	{
	tick();
	if ( ! worker_ready && stats$worker_outages == 0 )
		declare_unavailable(fmt("no hello within %s of startup", heartbeat_timeout));
	schedule heartbeat_timeout { HAMAD::check_worker() };
	}

# Listens for the worker; F (with a Worker_Unavailable notice) if it cannot.
function listen(): bool
	{
	local where = fmt("%s:%s", listen_addr, scoring_port());

	if ( active_transport() == TRANSPORT_BROKER )
		{
		# No retry: a port in use stays in use for this run.
		local p = Broker::listen(cat(listen_addr), scoring_port(), 0secs);
		if ( p != 0/unknown && p != 0/tcp )
			return T;
		}
	else
		{
@if ( Version::at_least("8.1") )
		# 8.1 and later: a standalone Zeek has no backend unless one is loaded.
		if ( Cluster::backend == Cluster::CLUSTER_BACKEND_NONE )
			{
			declare_unavailable("the websocket transport needs a cluster backend: "
			    + "'@load hamad/websocket' on a standalone Zeek");
			return F;
			}
@endif

		if ( Cluster::listen_websocket(Cluster::WebSocketServerOptions(
		    $listen_addr=listen_addr, $listen_port=scoring_port())) )
			return T;
		}

	declare_unavailable(fmt(
	    "cannot listen for the worker on %s (%s); is the port in use? "
	    + "Set HAMAD::listen_port", where, transport_name()));
	return F;
	}

# Listening waits until Zeek is initialized: an error (the port is in use)
# during zeek_init would make Zeek refuse to start. The timer fires before
# the first packet's events, or on the first pass of the main loop.
global start: event();

event zeek_init() &priority=-5
	{
	disable_event_group("hamad-clock");

	# Nothing to score (no trace, no interface, no cluster): do not listen,
	# so that Zeek ends after zeek_init as it would without the package.
	if ( ! reading_traces()
	    && ! reading_live_traffic()
	    && ! Cluster::is_enabled() )
		{
@ifdef ( backend_started_here )
		if ( ! exit_only_after_terminate )
			terminate();
@endif
		return;
		}

	if ( ! is_scoring_node()
	    || ! enabled
	    || getenv("ZEEKCTL_CHECK_CONFIG") != "" )
		return;

	# Decided now so that every connection of the trace is tracked.
	trace_mode = reading_traces() && wait_for_worker && ! Cluster::is_enabled();
	schedule 0secs { HAMAD::start() };
	}

event HAMAD::start()
	{
	if ( zeek_is_terminating() )
		return;

	listening = listen();
	if ( ! listening )
		{
		trace_mode = F;
		return;
		}

	if ( active_transport() == TRANSPORT_WEBSOCKET )
		Cluster::subscribe(verdicts_topic());
	else
		Broker::subscribe(verdicts_topic());

	if ( trace_mode )
		{
		suspend_processing();
		waiting_for_hello = T;
		hello_deadline = current_time() + startup_wait;
		start_clock();
		}
	else if ( ! reading_traces() )
		schedule heartbeat_timeout { HAMAD::check_worker() };
	}

event new_connection(c: connection)
	{
	if ( trace_mode )
		open_conns[c$uid] = c$id;
	}

event connection_flipped(c: connection)
	{
	if ( trace_mode )
		open_conns[c$uid] = c$id;
	}

event connection_state_remove(c: connection) &priority=-4
	{
	if ( trace_mode )
		delete open_conns[c$uid];
	}

event HAMAD::hello(worker: string, version: string, model_version: string)
	{
	++stats$hellos;
	if ( ! worker_ready && stats$worker_outages > 0 )
		Reporter::info(fmt("HAMAD: worker %s is back; %d summaries were not scored meanwhile",
		    worker, stats$summaries_unsent));

	worker_ready = T;
	last_seen = current_time();
	push_config("threshold_override", fmt("%s", threshold_override));
	push_config("log_min_score", fmt("%s", log_min_score));
	push_config("learning_period", fmt("%f", interval_to_double(learning_period)));

	if ( waiting_for_hello )
		{
		waiting_for_hello = F;
		stop_clock();
		continue_processing();
		}
	}

event HAMAD::heartbeat(worker: string, seq: count, received: count,
    scored: count, shed: count)
	{
	++stats$heartbeats;
	last_seen = current_time();
	if ( ! worker_ready && ! waiting_for_hello )
		{
		# A worker that lost us briefly keeps its session: treat as hello.
		Reporter::info(fmt("HAMAD: heartbeats from worker %s resumed", worker));
		worker_ready = T;
		}

	tick();
	}

event HAMAD::verdicts(batch: vector of Verdict, withheld: count) &priority=-10
	{
	stats$verdicts_received += |batch|;
	stats$verdicts_withheld += withheld;
	check_answers();
	last_seen = current_time();
	if ( draining )
		tick();
	}

# Counts summaries the worker gave no verdict; the first reports in full,
# after that one reporter line per 10,000 summaries.
function count_unscored(n: count, example: string, msg: string)
	{
	local before = stats$worker_errors;
	stats$worker_errors += n;
	check_answers();
	if ( before < 10 || before / 10000 != stats$worker_errors / 10000 )
		Reporter::warning(fmt(
		    "HAMAD: worker could not score %d summaries (%s, ...): %s "
		    + "(%d so far)", n, example, msg, stats$worker_errors));
	if ( draining )
		tick();
	}

event HAMAD::worker_error(uids: vector of string, msg: string)
	{
	count_unscored(|uids|, |uids| > 0 ? uids[0] : "-", msg);
	}

event HAMAD::unscored(batch: vector of Unscored, reason: string) &priority=-10
	{
	count_unscored(|batch|, |batch| > 0 ? batch[0]$uid : "-", reason);
	}

event Pcap::file_done(path: string)
	{
	# HAMAD ends the run: a Broker endpoint that listens, or only tried to,
	# keeps Zeek running after the trace.
	if ( ! trace_mode || ! enabled || ! worker_ready )
		{
		flush();
		finish();
		return;
		}

	# Expire the connections still open through the normal path
	# (connection_state_remove, conn.log) while verdicts can still arrive:
	# a negative inactivity timeout has passed at the current network time.
	for ( _, cid in open_conns )
		set_inactivity_timeout(cid, -1usec);

	draining = T;
	drain_deadline = current_time() + verdict_wait;
	start_clock();
	}

event zeek_done()
	{
	flush();
	report_stats();
	}
