##! Turns the worker's verdicts into ``hamad.log`` lines and notices.
##!
##! Verdicts arrive after conn.log was written, so they are logged to their
##! own stream keyed by ``uid`` instead of extending :zeek:type:`Conn::Info`.
##! The worker folds anomalous connections per originator and behaviour into
##! incidents (``anomalous``, ``scan`` and ``flood``, what the model and the
##! guards say of a host, make one incident per originator); an incident
##! with :zeek:see:`HAMAD::incident_min_connections`
##! connections raises one :zeek:enum:`HAMAD::Incident` (its id is the
##! ``$identifier``, so Zeek's suppression keeps it to one per cluster).
##! Per-connection notices (:zeek:enum:`HAMAD::Anomalous_Connection`) come
##! with :zeek:see:`HAMAD::notice_connections`; per-node host counts
##! (:zeek:enum:`HAMAD::Anomalous_Host`) with
##! :zeek:see:`HAMAD::host_notice_threshold`. Verdicts only reach the node
##! that sent the connection, so each is logged once in a cluster.

@load base/frameworks/notice
@load ./main

module HAMAD;

# Anomalous connections of one originator in the current window.
type HostWindow: record {
	## Connection time of the first anomalous connection in the window.
	start: time;
	## Anomalous connections in the window.
	n: count &default=0;
};

# Per-originator windows; entries older than a day cannot matter
# (host_notice_window is at most one day).
global host_windows: table[addr] of HostWindow &create_expire=1day;

# Incidents this node raised a notice for: one notice per incident, and a
# reminder a day for one that lasts (suppression, cluster-wide, would let a
# long incident repeat every notice_suppression).
global incidents_noticed: set[string] &create_expire=1day;

function notice_incident(v: Verdict)
	{
	if ( v$incident == ""
	    || v$incident in incidents_noticed
	    || v$incident_count < incident_min_connections
	    || ( v$behaviour == "" && v$incident_score < min_notice_score ) )
		return;

	add incidents_noticed[v$incident];
	local what = v$behaviour == "" ? "anomalous" : v$behaviour;
	local since = strftime("%Y-%m-%d %H:%M:%S %z", double_to_time(
	    v$incident_first));
	local msg = fmt("%s: %s, %d anomalous connections to %d responders", v$orig_h,
	    what, v$incident_count, v$incident_peers);
	msg += fmt(" since %s (e.g. %s:%s), highest score %.3f", since, v$resp_h,
	    v$resp_p, v$incident_score);
	local examples = |v$incident_uids| == 0 ? v$uid : join_string_vec(
	    v$incident_uids, ",");
	NOTICE(Notice::Info($note=Incident, $src=v$orig_h, $uid=v$uid, $msg=msg,
	    $sub=fmt("incident=%s examples=%s model=%s", v$incident, examples,
	    v$model_version), $n=v$incident_count, $identifier=v$incident,
	    $suppress_for=notice_suppression));
	}

# The endpoints of a verdict as a conn_id.
function verdict_id(v: Verdict): conn_id
	{
	return conn_id($orig_h=v$orig_h, $orig_p=v$orig_p, $resp_h=v$resp_h,
	    $resp_p=v$resp_p);
	}

# The feature part of notice messages: "duration, orig_bytes" or "n/a".
function feature_list(v: Verdict): string
	{
	if ( |v$top_features| == 0 )
		return "n/a";

	return join_string_vec(v$top_features, ", ");
	}

function count_host(v: Verdict)
	{
	local t = double_to_time(v$ts);

	if ( v$orig_h !in host_windows
	    || t - host_windows[v$orig_h]$start > host_notice_window )
		host_windows[v$orig_h] = HostWindow($start=t);

	local w = host_windows[v$orig_h];
	++w$n;

	if ( w$n == host_notice_threshold )
		NOTICE(Notice::Info($note=Anomalous_Host, $src=v$orig_h, $msg=fmt(
		    "%s originated %d anomalous connections within %s",
		    v$orig_h, w$n, host_notice_window), $sub=fmt(
		    "last uid=%s score=%.3f model=%s", v$uid, v$score,
		    v$top_model), $identifier=cat(v$orig_h),
		    $suppress_for=notice_suppression));
	}

# HAMAD::log_min_score: the worker already withholds most verdicts below it;
# the anomalous ones, which still arrive, are left out of hamad.log here.
hook log_policy(rec: Info, id: Log::ID, filter: Log::Filter)
	{
	if ( rec?$score && rec$score < log_min_score )
		break;
	}

# Longest name a HAMAD worker sends in a verdict; a longer one (or a uid no
# Zeek makes) comes from a broken or hostile peer.
const max_name_len = 256;

# Writes one hamad.log row, naming the scoring node in a cluster.
function write_log(rec: Info)
	{
	if ( Cluster::is_enabled() )
		rec$scored_by = Cluster::node;
	Log::write(HAMAD::LOG, rec);
	}

# Why a verdict cannot be from a HAMAD worker, or "".
function implausible(v: Verdict): string
	{
	if ( |v$uid| == 0 || |v$uid| > 64 )
		return fmt("a uid of %d characters", |v$uid|);
	if ( |v$top_features| > 16 || |v$incident_uids| > 16 )
		return "a list of more than 16 names";
	if ( |v$top_model| > max_name_len
	    || |v$model_version| > max_name_len
	    || |v$behaviour| > max_name_len
	    || |v$incident| > max_name_len )
		return fmt("a name of more than %d characters", max_name_len);
	for ( _, f in v$top_features )
		if ( |f| > max_name_len )
			return fmt("a feature name of %d characters", |f|);
	return "";
	}

function handle_verdict(v: Verdict)
	{
	local bad = implausible(v);
	if ( bad != "" )
		{
		# The first in full; after that one line per 10,000.
		if ( ++stats$verdicts_refused <= 10 || stats$verdicts_refused % 10000 == 0 )
			Reporter::warning(fmt("HAMAD: refused a verdict with %s (%d refused so far)",
			    bad, stats$verdicts_refused));
		return;
		}

	local rec = Info($ts=double_to_time(v$ts), $uid=v$uid, $id=verdict_id(v),
	    $score=v$score, $threshold=v$threshold, $anomalous=v$anomalous,
	    $top_features=v$top_features, $top_model=v$top_model,
	    $model_version=v$model_version, $interim=v$interim,
	    $learning=v$learning, $familiar=v$familiar, $behaviour=v$behaviour,
	    $incident=v$incident);
	write_log(rec);

	if ( ! v$anomalous )
		return;

	# While the worker learns this network its verdicts are logged only.
	if ( v$learning && ! notice_while_learning )
		return;

	notice_incident(v);

	# A long connection has several interim verdicts but is one connection.
	if ( ! v$interim && host_notice_threshold > 0 )
		count_host(v);

	if ( ! notice_connections || v$score < min_notice_score )
		return;

	local model = v$top_model == "" ? "n/a" : v$top_model;
	local msg = fmt(
	    "Anomalous connection %s -> %s:%s: score %.3f >= threshold %.3f",
	    v$orig_h, v$resp_h, v$resp_p, v$score, v$threshold);
	msg += fmt("; top features: %s; model weighed most: %s", feature_list(v),
	    model);
	local details = fmt("score=%.3f threshold=%.3f model=%s version=%s", v$score,
	    v$threshold, model, v$model_version);
	if ( v$interim )
		details += " interim";
	if ( v$learning )
		details += " learning";

	NOTICE(Notice::Info($note=Anomalous_Connection, $uid=v$uid, $id=verdict_id(v),
	    $msg=msg, $sub=details, $identifier=cat(v$orig_h, v$resp_h,
	    v$resp_p), $suppress_for=notice_suppression));
	}

event HAMAD::verdicts(batch: vector of Verdict, withheld: count)
	{
	for ( _, v in batch )
		handle_verdict(v);
	}

event HAMAD::unscored(batch: vector of Unscored, reason: string)
	{
	for ( _, u in batch )
		{
		local rec = Info($ts=double_to_time(u$ts), $uid=u$uid, $id=conn_id(
		    $orig_h=u$orig_h, $orig_p=u$orig_p, $resp_h=u$resp_h,
		    $resp_p=u$resp_p), $interim=u$interim, $learning=F,
		    $familiar=F, $reason=reason);
		write_log(rec);
		}
	}
