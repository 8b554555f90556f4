# @TEST-DOC: With HAMAD::notice_while_learning=T, anomalous verdicts made while the worker learns raise notices marked "learning"; Anomalous_Host counts them too.
#
# @TEST-EXEC: zeek -b $PACKAGE %INPUT
# @TEST-EXEC: zeek-cut uid note sub < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut

redef HAMAD::enabled = F;
redef HAMAD::notice_connections = T; # per-connection notices are what this tests
redef HAMAD::notice_while_learning = T;
redef HAMAD::host_notice_threshold = 2;

function make(uid: string, resp: addr): HAMAD::Verdict
	{
	return HAMAD::Verdict($uid=uid, $ts=1774219636.5, $orig_h=10.0.0.7,
	    $orig_p=40000/tcp, $resp_h=resp, $resp_p=23/tcp, $score=0.9,
	    $threshold=0.5, $anomalous=T, $top_features=vector("duration"),
	    $top_model="rf", $model_version="test-1", $interim=F, $learning=T,
	    $familiar=F);
	}

event zeek_init() &priority=-20
	{
	local batch: vector of HAMAD::Verdict = vector(make("N1", 192.0.2.31), make(
	    "N2", 192.0.2.32));
	event HAMAD::verdicts(batch, 0);
	}

event HAMAD::verdicts(batch: vector of HAMAD::Verdict, withheld: count)
    &priority=-100
	{
	terminate();
	}
