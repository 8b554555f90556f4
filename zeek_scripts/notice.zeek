##! Turns the worker's verdicts into ``hamad.log`` lines and notices.
##!
##! Verdicts arrive after conn.log was written, so they are logged to their
##! own stream keyed by ``uid`` instead of extending :zeek:type:`Conn::Info`.
##! Notices carry ``$uid`` and ``$id`` (the connection record is gone by
##! then). Anomalous connections (final verdicts) are also counted per
##! originator, and a host with :zeek:see:`HAMAD::host_notice_threshold` of
##! them within :zeek:see:`HAMAD::host_notice_window` raises one
##! :zeek:enum:`HAMAD::Anomalous_Host` notice. Verdicts only reach the
##! scoring node, so each is logged and noticed once in a cluster.

@load base/frameworks/notice
@load ./main

module HAMAD;

export {
	## Builds the ``conn_id`` of a verdict.
	##
	## v: the verdict.
	##
	## Returns: its endpoints as a ``conn_id``.
	global verdict_id: function(v: Verdict): conn_id;

	## Formats the feature part of notice messages.
	##
	## v: the verdict.
	##
	## Returns: for example ``"duration, orig_bytes"`` or ``"n/a"``.
	global feature_list: function(v: Verdict): string;
}

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

function verdict_id(v: Verdict): conn_id
	{
	return conn_id($orig_h=v$orig_h, $orig_p=v$orig_p, $resp_h=v$resp_h,
	    $resp_p=v$resp_p);
	}

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

function handle_verdict(v: Verdict)
	{
	if ( v$score >= log_min_score )
		Log::write(HAMAD::LOG, Info($ts=double_to_time(v$ts), $uid=v$uid,
		    $id=verdict_id(v), $score=v$score, $threshold=v$threshold,
		    $anomalous=v$anomalous, $top_features=v$top_features,
		    $top_model=v$top_model, $model_version=v$model_version,
		    $interim=v$interim, $learning=v$learning,
		    $familiar=v$familiar));

	if ( ! v$anomalous )
		return;

	# While the worker learns this network its verdicts are logged only.
	if ( v$learning && ! notice_while_learning )
		return;

	# A long connection has several interim verdicts but is one connection.
	if ( ! v$interim )
		count_host(v);

	if ( v$score < min_notice_score )
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
