##! HAMAD's counters on Zeek's own Prometheus endpoint.
##!
##! Registers HAMAD's counters with Zeek's telemetry framework, so that they
##! appear next to Zeek's own metrics wherever Zeek exposes them
##! (:zeek:see:`Telemetry::metrics_port`; under zeekctl each node's metrics
##! port) and in :zeek:see:`Telemetry::collect_metrics`. Every node exports
##! its own values, with the ``node`` label Zeek adds. The values are copied
##! from :zeek:see:`HAMAD::stats` when Zeek collects its metrics (the
##! :zeek:see:`Telemetry::sync` hook), so they cost nothing per connection;
##! notices are counted as they are raised (suppressed repeats are not).
##!
##! Prometheus names (Zeek adds the ``zeek_`` prefix and ``_total`` to counters):
##!
##! * ``zeek_hamad_summaries_built_total``: summaries built on this node;
##! * ``zeek_hamad_summaries_forwarded_total``: forwarded to the scoring node
##!   (or, sharded, to the proxies);
##! * ``zeek_hamad_summaries_unrouted_total``: not forwarded, sharded and no
##!   proxy up;
##! * ``zeek_hamad_shard_changes_total``: times a proxy joined or left the
##!   pool (its hosts move to another shard);
##! * ``zeek_hamad_summaries_from_cluster_total``: received from other nodes;
##! * ``zeek_hamad_summaries_sent_total``: sent to the worker;
##! * ``zeek_hamad_summaries_unsent_total``: not sent, the worker being away;
##! * ``zeek_hamad_batches_sent_total``: batches sent to the worker;
##! * ``zeek_hamad_verdicts_received_total``: verdicts received;
##! * ``zeek_hamad_verdicts_withheld_total``: verdicts the worker only counted;
##! * ``zeek_hamad_worker_errors_total``: summaries the worker could not score;
##! * ``zeek_hamad_heartbeats_total``: heartbeats received;
##! * ``zeek_hamad_worker_outages_total``: times the worker was declared unavailable;
##! * ``zeek_hamad_notices_total{note}``: notices raised, by type
##!   (``HAMAD::Incident``, ``HAMAD::Anomalous_Connection``,
##!   ``HAMAD::Anomalous_Host``, ``HAMAD::Worker_Unavailable``);
##! * ``zeek_hamad_worker_available``: 1 while summaries are being sent;
##! * ``zeek_hamad_summaries_outstanding``: sent, still without a verdict.

@load base/frameworks/telemetry
@load base/frameworks/notice
@load ./main
@load ./transport

module HAMAD;

# Counter families mirroring the HAMAD::Stats fields of the same name.
global stats_cf: table[string] of Telemetry::CounterFamily;

# What each mirrored counter means (its Prometheus help text).
const stats_help: table[string] of string = {
	["summaries_built"] = "Connection summaries built on this node.",
	["summaries_forwarded"] =
	    "Summaries forwarded to the cluster's scoring node or shards.",
	["summaries_unrouted"] =
	    "Summaries not forwarded: scoring is sharded and no proxy was up.",
	["shard_changes"] =
	    "Times a proxy joined or left the pool, moving hosts between shards.",
	["summaries_from_cluster"] =
	    "Summaries the scoring node received from other nodes.",
	["summaries_sent"] = "Summaries sent to the HAMAD worker.",
	["summaries_unsent"] =
	    "Summaries not sent because the worker was unavailable.",
	["batches_sent"] = "Batches of summaries sent to the worker.",
	["verdicts_received"] = "Verdicts received from the worker.",
	["verdicts_withheld"] =
	    "Verdicts the worker scored but did not send (log_min_score).",
	["worker_errors"] = "Summaries the worker reported it could not score.",
	["verdicts_refused"] =
	    "Verdicts refused as implausible (a broken or hostile peer).",
	["answers_unexpected"] =
	    "Answers for summaries this Zeek did not send (unknown uids).",
	["heartbeats"] = "Heartbeats received from the worker.",
	["worker_outages"] = "Times the worker was declared unavailable.",
};

global notices_cf = Telemetry::register_counter_family(Telemetry::MetricOpts(
    $prefix="zeek", $name="hamad_notices", $unit="",
    $help_text="HAMAD notices raised (suppressed repeats not counted).",
    $label_names=vector("note")));

global available_gf = Telemetry::register_gauge_family(Telemetry::MetricOpts(
    $prefix="zeek", $name="hamad_worker_available", $unit="",
    $help_text="1 while the HAMAD worker is available, else 0."));

global outstanding_gf = Telemetry::register_gauge_family(Telemetry::MetricOpts(
    $prefix="zeek", $name="hamad_summaries_outstanding", $unit="",
    $help_text="Summaries sent that have no verdict yet."));

global no_labels: vector of string = vector();

event zeek_init()
	{
	for ( name, help in stats_help )
		stats_cf[name] = Telemetry::register_counter_family(Telemetry::MetricOpts(
		    $prefix="zeek", $name="hamad_" + name, $unit="",
		    $help_text=help));

	# Every notice type shows up from the start, at 0.
	for ( note in set(Incident, Anomalous_Connection, Anomalous_Host,
	    Worker_Unavailable) )
		Telemetry::counter_with(notices_cf, vector(cat(note)));
	}

hook Telemetry::sync()
	{
	if ( |stats_cf| == 0 )
		return;

	# Every count field of HAMAD::stats that has a help text is a counter.
	for ( name, field in record_fields(stats) )
		if ( name in stats_cf )
			Telemetry::counter_family_set(stats_cf[name], no_labels, field$value as
			    count);

	Telemetry::gauge_family_set(available_gf, no_labels, worker_available() ? 1.0 :
	    0.0);
	Telemetry::gauge_family_set(outstanding_gf, no_labels, outstanding());
	}

hook Notice::notice(n: Notice::Info)
	{
	if ( n$note == Incident
	    || n$note == Anomalous_Connection
	    || n$note == Anomalous_Host
	    || n$note == Worker_Unavailable )
		Telemetry::counter_family_inc(notices_cf, vector(cat(n$note)));
	}
