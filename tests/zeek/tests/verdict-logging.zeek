# @TEST-DOC: Verdicts raised as if the worker sent them: hamad.log above log_min_score, notices for anomalous ones above min_notice_score, repeats for one host pair and port suppressed, verdicts made while learning logged without a notice, familiar ones logged as such; a summary the worker could not score logged with its reason and no score; an implausible verdict (a 100-character uid) refused with a reporter warning.
#
# The worker is simulated by raising HAMAD::verdicts; nothing listens.
# Scores are checked through the notice text (fixed %.3f formatting) rather
# than hamad.log's double column.
#
# @TEST-EXEC: zeek -b $PACKAGE %INPUT 2> stderr
# @TEST-EXEC: zeek-cut uid id.orig_h id.resp_h id.resp_p anomalous top_features top_model interim learning familiar reason < hamad.log > hamad.cut
# @TEST-EXEC: btest-diff hamad.cut
# @TEST-EXEC: zeek-cut uid note src msg sub < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: grep -o 'HAMAD: .*' stderr > warnings
# @TEST-EXEC: btest-diff warnings

redef HAMAD::enabled = F;
redef HAMAD::notice_connections = T; # per-connection notices are what this tests
redef HAMAD::log_min_score = 0.1;
redef HAMAD::min_notice_score = 0.6;
redef HAMAD::host_notice_threshold = 100;

function make(uid: string, resp: addr, rp: port, score: double, anomalous: bool,
    interim: bool, learning: bool &default=F, familiar: bool &default=F)
    : HAMAD::Verdict
	{
	return HAMAD::Verdict($uid=uid, $ts=1774219636.918162, $orig_h=10.0.0.1,
	    $orig_p=40000/tcp, $resp_h=resp, $resp_p=rp, $score=score,
	    $threshold=0.5, $anomalous=anomalous, $top_features=vector(
	    "orig_bytes", "duration"), $top_model="xgb",
	    $model_version="test-1", $interim=interim, $learning=learning,
	    $familiar=familiar);
	}

event zeek_init() &priority=-20
	{
	local batch: vector of HAMAD::Verdict = vector(make("C1", 192.0.2.1, 443/tcp,
	    0.05, F, F), # below log_min_score: not logged
		make("C2", 192.0.2.1, 443/tcp, 0.3, F, F), # logged, not anomalous
		make("C3", 192.0.2.1, 443/tcp, 0.55, T, F), # anomalous, below min_notice_score
		make("C4", 192.0.2.1, 443/tcp, 0.93, T, F), # notice
		make("C5", 192.0.2.1, 443/tcp, 0.95, T, F), # same identifier: suppressed
		make("C6", 192.0.2.2, 22/tcp, 0.875, T, T), # new identifier, interim
		make("C7", 192.0.2.3, 23/tcp, 0.9, T, F, T), # while learning: no notice
		make("C8", 192.0.2.4, 443/tcp, 0.9, F, F, F, T), # familiar: no notice
		make(fmt("C%099d", 7), 192.0.2.5, 80/tcp, 0.9, T, F)); # a 100-character uid: refused
	event HAMAD::unscored(vector(HAMAD::Unscored($uid="C9", $ts=1774219636.918162,
	    $orig_h=10.0.0.1, $orig_p=40001/tcp, $resp_h=192.0.2.6,
	    $resp_p=443/tcp, $interim=F)), "shed: worker queue full"); # logged with its reason
	event HAMAD::verdicts(batch, 0);
	}

event HAMAD::verdicts(batch: vector of HAMAD::Verdict, withheld: count)
    &priority=-100
	{
	terminate();
	}
