# @TEST-DOC: Anomalous verdicts the worker folded into incidents raise one HAMAD::Incident each, once the incident has incident_min_connections connections: named behaviour, counts, peers, examples; later verdicts of the same incident are suppressed by its $identifier; verdicts made while learning, without an incident or, when no behaviour is named, below min_notice_score raise none; no per-connection notice on the defaults; hamad.log carries the behaviour and the incident.
#
# The worker is simulated by raising HAMAD::verdicts; nothing listens.
#
# @TEST-EXEC: zeek -b $PACKAGE %INPUT
# @TEST-EXEC: zeek-cut uid anomalous behaviour incident < hamad.log > hamad.cut
# @TEST-EXEC: btest-diff hamad.cut
# @TEST-EXEC: zeek-cut uid note src n msg sub < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut

redef HAMAD::enabled = F;
redef HAMAD::min_notice_score = 0.6;

function make(uid: string, orig: addr, resp: addr, rp: port, behaviour: string,
    incident: string, n: count, score: double, learning: bool &default=F)
    : HAMAD::Verdict
	{
	return HAMAD::Verdict($uid=uid, $ts=1774219636.0 + n, $orig_h=orig,
	    $orig_p=40000/tcp, $resp_h=resp, $resp_p=rp, $score=score,
	    $threshold=0.5, $anomalous=incident != "", $top_features=vector(
	    "duration"), $top_model="xgb", $model_version="test-1", $interim=F,
	    $learning=learning, $behaviour=behaviour, $incident=incident,
	    $incident_count=n, $incident_peers=1, $incident_first=1774219636.0,
	    $incident_score=score, $incident_uids=vector("G1", "G2", "G3"));
	}

event zeek_init() &priority=-20
	{
	local g = "10.0.0.5/password-guessing/1774219636";
	local a = "10.0.0.6/anomalous/1774219636";
	local b = "10.0.0.4/beacon/1774219636";
	local l = "10.0.0.7/scan/1774219636";
	local batch: vector of HAMAD::Verdict = vector(make("N0", 10.0.0.8, 192.0.2.9,
	    443/tcp, "", "", 0, 0.1), # not anomalous
		make("G1", 10.0.0.5, 192.0.2.22, 22/tcp, "password-guessing", g, 1, 0.9),
		make("G2", 10.0.0.5, 192.0.2.22, 22/tcp, "password-guessing", g, 2, 0.9),
		make("G3", 10.0.0.5, 192.0.2.22, 22/tcp, "password-guessing", g, 3, 0.9), # notice
		make("G4", 10.0.0.5, 192.0.2.22, 22/tcp, "password-guessing", g, 4, 0.9), # suppressed
		make("A1", 10.0.0.6, 198.51.100.8, 443/tcp, "", a, 3, 0.55), # below min_notice_score
		make("B1", 10.0.0.4, 198.51.100.7, 8080/tcp, "beacon", b, 3, 0.05), # evidence: notice
		make("L3", 10.0.0.7, 192.0.2.30, 23/tcp, "scan", l, 3, 0.9, T)); # while learning
	event HAMAD::verdicts(batch, 0);
	}

event HAMAD::verdicts(batch: vector of HAMAD::Verdict, withheld: count)
    &priority=-100
	{
	terminate();
	}
