# @TEST-DOC: HAMAD's counters are registered with Zeek's telemetry framework: verdicts, worker errors and notices show in Telemetry::collect_metrics (what Zeek's Prometheus endpoint serves), notices counted by type with suppressed repeats left out.
#
# The worker is simulated by raising HAMAD::verdicts and HAMAD::worker_error;
# nothing listens. The counters the transport would have kept are set from
# inside the module (they are not exported).
#
# @TEST-EXEC: zeek -b $PACKAGE %INPUT > out
# @TEST-EXEC: btest-diff out

redef HAMAD::enabled = F;
redef HAMAD::notice_connections = T; # per-connection notices are what this tests
redef HAMAD::host_notice_threshold = 100;

function make(uid: string, resp: addr, score: double): HAMAD::Verdict
	{
	return HAMAD::Verdict($uid=uid, $ts=1774219636.918162, $orig_h=10.0.0.1,
	    $orig_p=40000/tcp, $resp_h=resp, $resp_p=443/tcp, $score=score,
	    $threshold=0.5, $anomalous=score >= 0.5, $top_features=vector(
	    "orig_bytes"), $top_model="xgb", $model_version="test-1",
	    $interim=F);
	}

module HAMAD;

event zeek_init() &priority=-20
	{
	stats$summaries_built = 5;
	stats$summaries_sent = 5;
	stats$batches_sent = 1;
	local batch: vector of HAMAD::Verdict = vector(make("C1", 192.0.2.1, 0.1),
		make("C2", 192.0.2.1, 0.9), # notice
		make("C3", 192.0.2.1, 0.95), # same identifier: suppressed, not counted
		make("C4", 192.0.2.2, 0.8)); # notice
	event HAMAD::verdicts(batch, 0);
	event HAMAD::worker_error(vector("C5"), "shed: worker queue full");
	}

event worker_error(uids: vector of string, msg: string) &priority=-100
	{
	local ms = Telemetry::collect_metrics("zeek", "hamad_*");
	local lines: vector of string = vector();
	for ( _, m in ms )
		{
		local labels = "";
		for ( i, n in m$label_names )
			if ( n != "node" )
				labels += fmt("{%s=%s}", n, m$label_values[i]);
		lines += fmt("%s%s %s", m$opts$name, labels, m$value);
		}
	sort(lines, strcmp);
	for ( _, line in lines )
		print line;
	terminate();
	}
