##! Moves summaries to the HAMAD worker and its answers back.
##!
##! Zeek listens (Broker or WebSocket, per :zeek:see:`HAMAD::transport`) and
##! the worker connects. Summaries are batched by size
##! (:zeek:see:`HAMAD::batch_size`) and age (:zeek:see:`HAMAD::max_batch_delay`)
##! and published on ``<prefix>/summaries``; the worker publishes verdicts,
##! hello, heartbeats and errors on ``<prefix>/verdicts``.
##!
##! Liveness: the worker is usable from its ``HAMAD::hello`` until no
##! heartbeat arrived for :zeek:see:`HAMAD::heartbeat_timeout`. While it is
##! unusable, summaries are dropped and counted in
##! :zeek:see:`HAMAD::stats` (``summaries_unsent``), and one
##! :zeek:enum:`HAMAD::Worker_Unavailable` notice is raised.
##!
##! Reading a trace (``zeek -r``): if :zeek:see:`HAMAD::wait_for_worker` is
##! set, packet processing is suspended until the worker's hello. Network
##! time stands still while suspended, so timers cannot bound the wait; the
##! clock is the worker's heartbeat plus Broker's retry errors from a peering
##! attempt to :zeek:see:`HAMAD::wait_clock_port`, compared with wall-clock
##! :zeek:id:`current_time`. (``when`` must not be used for this: a pending
##! ``when`` timeout never fires while suspended.) At the end of the trace,
##! network time is advanced by an hour to expire the open connections
##! through the normal path, then Zeek waits up to
##! :zeek:see:`HAMAD::verdict_wait` for outstanding verdicts and terminates.

@load base/frameworks/broker
@load base/frameworks/cluster
@load base/frameworks/notice
@load ./main

# Keep Zeek alive after the trace so verdicts for the last connections can
# still arrive; HAMAD calls terminate() itself (also when disabled).
redef exit_only_after_terminate = T;

module HAMAD;

export {
	## Transport counters; written to reporter.log when Zeek terminates.
	type Stats: record {
		## Summaries published to the worker.
		summaries_sent: count &default=0;
		## Summaries dropped because no worker was available.
		summaries_unsent: count &default=0;
		## Batches published.
		batches_sent: count &default=0;
		## Verdicts received.
		verdicts_received: count &default=0;
		## ``HAMAD::worker_error`` events received.
		worker_errors: count &default=0;
		## Heartbeats received.
		heartbeats: count &default=0;
		## Times the worker said hello.
		hellos: count &default=0;
		## Times the worker was declared unavailable.
		outages: count &default=0;
	};

	## The live counters.
	global stats = Stats();

	## Whether a worker said hello and its heartbeats are recent.
	##
	## Returns: ``T`` if summaries are being sent.
	global worker_available: function(): bool;

	## Topic Zeek publishes summaries and config on.
	##
	## Returns: ``<topic_prefix>/summaries``.
	global summaries_topic: function(): string;

	## Topic the worker publishes on.
	##
	## Returns: ``<topic_prefix>/verdicts``.
	global verdicts_topic: function(): string;
}

# Flushes a partial batch after max_batch_delay.
global flush_timer: event();
# Live mode: periodic liveness check of the worker.
global check_worker: event();

# Summaries waiting to be published.
global pending: vector of ConnSummary = vector();
# Whether a flush timer is scheduled.
global flush_scheduled = F;
# Whether the worker said hello and was not declared unavailable since.
global worker_ready = F;
# Name the worker gave in its hello.
global worker_name = "";
# Wall-clock time of the last hello or heartbeat.
global last_seen: time = double_to_time(0.0);
# zeek -r: suspended until the worker's hello, with a wall-clock deadline.
global waiting_for_hello = F;
global hello_deadline: time = double_to_time(0.0);
# zeek -r: the trace ended and we wait for outstanding verdicts.
global draining = F;
global drain_deadline: time = double_to_time(0.0);
# When draining started: connections expired by set_network_time() are only
# removed on a later main-loop pass, so "nothing outstanding" counts only
# after a short grace period.
global drain_started: time = double_to_time(0.0);
# Whether the Broker retry clock is running.
global clock_running = F;
# Whether terminate() was called.
global finished = F;

function summaries_topic(): string
	{
	return topic_prefix + "/summaries";
	}

function verdicts_topic(): string
	{
	return topic_prefix + "/verdicts";
	}

function worker_available(): bool
	{
	return worker_ready;
	}

# Summaries that still expect a verdict or an error.
function outstanding(): int
	{
	local sent: int = stats$summaries_sent;
	local answered: int = stats$verdicts_received + stats$worker_errors;
	return sent - answered;
	}

# The Broker transport always uses Broker's own API (available whatever the
# cluster backend); the WebSocket transport uses the cluster API that Zeek's
# WebSocket server is part of (Zeek 8.0 and later).
function publish_batch(batch: vector of ConnSummary)
	{
	if ( transport == "websocket" )
		{
@if ( Version::at_least("8.0") )
		Cluster::publish(summaries_topic(), conn_summaries, batch);
@endif
		}
	else
		Broker::publish(summaries_topic(), conn_summaries, batch);
	}

function push_config(name: string, value: string)
	{
	if ( ! worker_ready )
		return;

	if ( transport == "websocket" )
		{
@if ( Version::at_least("8.0") )
		Cluster::publish(summaries_topic(), config_changed, name, value);
@endif
		}
	else
		Broker::publish(summaries_topic(), config_changed, name, value);
	}

function flush()
	{
	if ( |pending| == 0 )
		return;

	if ( worker_ready )
		{
		publish_batch(pending);
		stats$summaries_sent += |pending|;
		++stats$batches_sent;
		}
	else
		stats$summaries_unsent += |pending|;

	pending = vector();
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
	else if ( ! flush_scheduled )
		{
		flush_scheduled = T;
		schedule max_batch_delay { HAMAD::flush_timer() };
		}
	}

function start_clock()
	{
	if ( clock_running )
		return;

	clock_running = T;
	Broker::peer("127.0.0.1", wait_clock_port, 1sec);
	}

function stop_clock()
	{
	if ( ! clock_running )
		return;

	clock_running = F;
	Broker::unpeer("127.0.0.1", wait_clock_port);
	}

function report_stats()
	{
	local sent = fmt("summaries sent=%d unsent=%d in %d batches",
	    stats$summaries_sent, stats$summaries_unsent, stats$batches_sent);
	local got = fmt("verdicts=%d worker_errors=%d outstanding=%d",
	    stats$verdicts_received, stats$worker_errors, outstanding());
	local live = fmt("heartbeats=%d outages=%d", stats$heartbeats, stats$outages);
	Reporter::info(fmt("HAMAD: %s; %s; %s", sent, got, live));
	}

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
	terminate();
	}

function declare_unavailable(why: string)
	{
	if ( worker_ready || stats$outages == 0 )
		{
		++stats$outages;
		local how = fmt("hamad serve --transport %s --port %d", transport,
		    port_to_count(listen_port));
		Reporter::warning(fmt(
		    "HAMAD: worker unavailable (%s); no scoring until it is back. "
		    + "Start it with '%s'.", why, how));
		local where = fmt("transport=%s listen=%s:%s", transport, listen_addr,
		    listen_port);
		NOTICE(Notice::Info($note=Worker_Unavailable, $msg=fmt(
		    "HAMAD worker unavailable: %s", why), $sub=where,
		    $identifier="hamad-worker",
		    $suppress_for=notice_suppression));
		}

	worker_ready = F;
	}

# Called on every clock source: heartbeats, verdicts, Broker retry errors and
# the live-mode check timer. Compares wall-clock deadlines.
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

	if ( draining )
		{
		flush();
		local settled = now - drain_started >= 1sec && |pending| == 0;
		if ( ( settled && outstanding() <= 0 )
		    || ! worker_ready
		    || now >= drain_deadline )
			finish();
		}
	else if ( worker_ready && now - last_seen > heartbeat_timeout )
		declare_unavailable(fmt("no heartbeat for %s", now - last_seen));
	}

event HAMAD::check_worker()
	{
	tick();
	if ( ! worker_ready
	    && ! waiting_for_hello
	    && stats$outages == 0
	    && ! reading_traces() )
		declare_unavailable(fmt("no hello within %s of startup", heartbeat_timeout));
	schedule heartbeat_timeout { HAMAD::check_worker() };
	}

event zeek_init() &priority=-5
	{
	if ( ! enabled )
		return;

	if ( transport == "websocket" )
		{
@if ( Version::at_least("8.0") )
@ifndef ( Cluster::Backend::ZeroMQ::run_proxy_thread )
		Reporter::fatal("HAMAD: the websocket transport needs '@load hamad/websocket'");
@endif
		if ( ! Cluster::listen_websocket(Cluster::WebSocketServerOptions(
		    $listen_addr=listen_addr, $listen_port=listen_port)) )
			Reporter::fatal(fmt("HAMAD: cannot listen for WebSocket clients on %s:%s; "
			    + "is the port in use? Change HAMAD::listen_port.", listen_addr, listen_port));
@else
		Reporter::fatal("HAMAD: the websocket transport needs Zeek 8.0 or later; "
		    + "use HAMAD::transport = \"broker\"");
@endif
		}
	else
		{
		local p = Broker::listen(cat(listen_addr), listen_port);
		if ( p == 0/unknown || p == 0/tcp )
			Reporter::fatal(fmt("HAMAD: cannot listen for Broker peers on %s:%s; is the port in "
			    + "use? Change HAMAD::listen_port.", listen_addr, listen_port));
		}

	if ( transport == "websocket" )
		{
@if ( Version::at_least("8.0") )
		Cluster::subscribe(verdicts_topic());
@endif
		}
	else
		Broker::subscribe(verdicts_topic());

	if ( reading_traces() && wait_for_worker )
		{
		suspend_processing();
		waiting_for_hello = T;
		hello_deadline = current_time() + startup_wait;
		start_clock();
		}
	else if ( ! reading_traces() )
		schedule heartbeat_timeout { HAMAD::check_worker() };
	}

event HAMAD::hello(worker: string, version: string, model_version: string)
	{
	++stats$hellos;
	if ( ! worker_ready && stats$outages > 0 )
		Reporter::info(fmt("HAMAD: worker %s is back; %d summaries were not scored meanwhile",
		    worker, stats$summaries_unsent));

	worker_ready = T;
	worker_name = worker;
	last_seen = current_time();
	push_config("threshold_override", fmt("%s", threshold_override));

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

event HAMAD::verdicts(batch: vector of Verdict) &priority=-10
	{
	stats$verdicts_received += |batch|;
	last_seen = current_time();
	if ( draining )
		tick();
	}

event HAMAD::worker_error(uid: string, msg: string)
	{
	++stats$worker_errors;
	if ( stats$worker_errors <= 10 )
		Reporter::warning(fmt("HAMAD: worker could not score %s: %s", uid, msg));
	if ( draining )
		tick();
	}

event Broker::error(code: Broker::ErrorCode, msg: string)
	{
	if ( clock_running )
		tick();
	}

event Pcap::file_done(path: string)
	{
	if ( ! enabled || ! wait_for_worker )
		{
		terminate();
		return;
		}

	# Expire the connections still open through the normal path
	# (connection_state_remove, conn.log), while verdicts can still arrive.
	set_network_time(network_time() + 1hr);
	draining = T;
	drain_started = current_time();
	drain_deadline = drain_started + verdict_wait;
	if ( ! worker_ready )
		{
		finish();
		return;
		}

	start_clock();
	}

event zeek_done()
	{
	flush();
	report_stats();
	}
