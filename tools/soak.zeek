##! The summaries of tools/soak.py: made at HAMAD::soak_rate per second on
##! Zeek's own clock and handed to HAMAD as finished connections are. The
##! tool fills in LAT_EDGES and LAT_ZEROS (its latency histogram) before loading it.
module HAMAD;

redef exit_only_after_terminate = T;

export {
	const soak_rate = 1000.0 &redef;
	const soak_duration = 60sec &redef;
	const soak_every = 10sec &redef;
	## How long after the end summaries may stay unanswered before Zeek stops anyway.
	const soak_grace = 120sec &redef;
}
global soak_started: time;
global soak_first: time;
global soak_running = F;
global soak_done = F;
global soak_n = 0;
global soak_behind = 0;
global soak_ports = vector(443/tcp, 80/tcp, 53/udp, 22/tcp, 123/udp, 8883/tcp,
    25/tcp, 3389/tcp);
global soak_states = vector("SF", "SF", "SF", "S0", "REJ", "SF", "RSTO", "SF");
global soak_hist: vector of count = vector(LAT_ZEROS);
global soak_edges = vector(LAT_EDGES);

function soak_summary(i: count): ConnSummary
	{
	local now = current_time();
	local k = i % 8;
	local p = soak_ports[k];
	return ConnSummary($ts=time_to_double(now), $uid=fmt("S%d", i),
	    $orig_h=count_to_v4_addr(167837696 + ( i * 7919 ) % 2000),
	    $orig_p=count_to_port(1024 + i % 60000, get_port_transport_proto(p)),
	    $resp_h=count_to_v4_addr(167903232 + ( i * 104729 ) % 20000),
	    $resp_p=p, $proto=get_port_transport_proto(p),
	    $duration=double_to_interval(0.001 * ( i % 500 )), $orig_bytes=( i *
	    37 ) % 5000, $resp_bytes=( i * 101 ) % 90000,
	    $conn_state=soak_states[k], $local_orig=T, $local_resp=F,
	    $missed_bytes=0, $history="ShADadFf", $orig_pkts=3 + i % 20,
	    $orig_ip_bytes=200 + ( i * 37 ) % 5000, $resp_pkts=2 + i % 30,
	    $resp_ip_bytes=150 + ( i * 101 ) % 90000, $ip_proto=( p == 53/udp || p ==
	    123/udp ) ? 17 : 6);
	}

event soak_tick()
	{
	if ( ! soak_running )
		return;
	local now = current_time();
	local due = double_to_count(soak_rate * interval_to_double(now -
	    soak_started));
	# A Zeek that falls behind makes at most 50 ms worth per tick: the offer is
	# then what Zeek achieves (reported), never a burst of everything owed.
	local most = soak_n + double_to_count(soak_rate * 0.05) + 1;
	if ( due > most )
		{
		soak_behind += due - most;
		soak_started = soak_started + double_to_interval(( due - most ) / soak_rate);
		due = most;
		}
	while ( soak_n < due )
		{
		++soak_n;
		++stats$summaries_built;
		enqueue_summary(soak_summary(soak_n));
		}
	if ( now - soak_first >= soak_duration )
		{
		soak_running = F;
		flush();
		return;
		}
	schedule 5msec { soak_tick() };
	}

event soak_report()
	{
	local hist = "";
	for ( _, x in soak_hist )
		hist += fmt("%s%d", |hist| > 0 ? "," : "", x);
	local line = "SOAK t=%.1f behind=%d made=%d sent=%d unsent=%d verdicts=%d withheld=%d "
	    + "errors=%d outstanding=%d lat=%s";
	print fmt(line, interval_to_double(current_time() - soak_first), soak_behind,
	    soak_n, stats$summaries_sent, stats$summaries_unsent,
	    stats$verdicts_received, stats$verdicts_withheld,
	    stats$worker_errors, outstanding(), hist);
	flush_all(); # stdout is a pipe to the tool: one line per sample, as it happens
	soak_hist = vector(LAT_ZEROS);
	if ( ! soak_running
	    && ( outstanding() <= 0 || current_time() - soak_first > soak_duration + soak_grace ) )
		{
		if ( ! soak_done )
			{
			soak_done = T;
			print "SOAK end";
			terminate();
			}
		return;
		}
	schedule soak_every { soak_report() };
	}

# No worker ever came: end anyway (what was made is in the stop line).
event soak_give_up()
	{
	if ( ! soak_running && ! soak_done )
		{
		soak_done = T;
		print "SOAK end (no worker)";
		terminate();
		}
	}

# Without a trace or an interface HAMAD does not listen on its own (Zeek would end
# after zeek_init); the soak has no packets, only summaries, so it starts it.
event zeek_init() &priority=-10
	{
	schedule 0secs { HAMAD::start() };
	schedule soak_duration + soak_grace { soak_give_up() };
	}

event HAMAD::hello(worker: string, version: string, model_version: string)
    &priority=-20
	{
	if ( soak_running || soak_done )
		return;
	soak_running = T;
	soak_started = current_time();
	soak_first = soak_started;
	event soak_tick();
	schedule soak_every { soak_report() };
	}

event HAMAD::verdicts(batch: vector of Verdict, withheld: count) &priority=-20
	{
	local now = time_to_double(current_time());
	for ( _, v in batch )
		{
		local lat = now - v$ts;
		local j = 0;
		while ( j < |soak_edges| && lat > soak_edges[j] )
			++j;
		++soak_hist[j];
		}
	}
