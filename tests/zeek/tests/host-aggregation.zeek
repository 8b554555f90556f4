# @TEST-DOC: host_notice_threshold anomalous connections from one originator within host_notice_window raise one Anomalous_Host notice; a connection outside the window starts a new count; interim verdicts of a long connection do not count.
#
# @TEST-EXEC: zeek -b $PACKAGE %INPUT
# @TEST-EXEC: zeek-cut note src sub < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut

redef HAMAD::enabled = F;
redef HAMAD::notice_connections = T; # per-connection notices are what this tests
redef HAMAD::host_notice_threshold = 3;
redef HAMAD::host_notice_window = 10min;

function make(uid: string, ts: double, resp: addr, interim: bool &default=F)
    : HAMAD::Verdict
	{
	return HAMAD::Verdict($uid=uid, $ts=ts, $orig_h=10.0.0.9, $orig_p=50000/tcp,
	    $resp_h=resp, $resp_p=80/tcp, $score=0.9, $threshold=0.5,
	    $anomalous=T, $top_features=vector("dst_2m_log_count"),
	    $top_model="rf", $model_version="test-1", $interim=interim);
	}

event zeek_init() &priority=-20
	{
	local t0 = 1774219636.0;
	local batch: vector of HAMAD::Verdict = vector(make("H1", t0, 192.0.2.11), # window starts
		make("L1", t0 + 30.0, 192.0.2.99, T), # interim verdicts: not counted
		make("L1", t0 + 30.0, 192.0.2.99, T),
		make("H2", t0 + 60.0, 192.0.2.12),
		make("H3", t0 + 3600.0, 192.0.2.13), # outside the window: count restarts
		make("H4", t0 + 3660.0, 192.0.2.14),
		make("H5", t0 + 3720.0, 192.0.2.15)); # third in the new window: host notice
	event HAMAD::verdicts(batch, 0);
	}

event HAMAD::verdicts(batch: vector of HAMAD::Verdict, withheld: count)
    &priority=-100
	{
	terminate();
	}
