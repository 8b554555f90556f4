# @TEST-DOC: host_notice_threshold anomalous connections from one originator within host_notice_window raise one Anomalous_Host notice; a connection outside the window starts a new count.
#
# @TEST-EXEC: zeek -b $PACKAGE %INPUT
# @TEST-EXEC: zeek-cut note src sub < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut

redef HAMAD::enabled = F;
redef HAMAD::host_notice_threshold = 3;
redef HAMAD::host_notice_window = 10min;

function make(uid: string, ts: double, resp: addr): HAMAD::Verdict
	{
	return HAMAD::Verdict($uid=uid, $ts=ts, $orig_h=10.0.0.9, $orig_p=50000/tcp,
	    $resp_h=resp, $resp_p=80/tcp, $score=0.9, $threshold=0.5, $anomalous=T,
	    $top_features=vector("dst_2m_log_count"), $top_contributions=vector(0.3),
	    $top_model="rf", $model_version="test-1", $interim=F);
	}

event zeek_init() &priority=-20
	{
	local t0 = 1774219636.0;
	local batch: vector of HAMAD::Verdict = vector(
	    make("H1", t0, 192.0.2.11), # window starts
	    make("H2", t0 + 60.0, 192.0.2.12),
	    make("H3", t0 + 3600.0, 192.0.2.13), # outside the window: count restarts
	    make("H4", t0 + 3660.0, 192.0.2.14),
	    make("H5", t0 + 3720.0, 192.0.2.15)); # third in the new window: host notice
	event HAMAD::verdicts(batch);
	}

event HAMAD::verdicts(batch: vector of HAMAD::Verdict) &priority=-100
	{
	terminate();
	}
