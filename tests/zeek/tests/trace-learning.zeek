# @TEST-DOC: zeek -r with a fresh worker on the default learning period (a day of network time): every verdict is logged with learning=T, no Anomalous_* notice is raised, and the worker saves what it learned.
#
# @TEST-REQUIRES: test -x "$HAMAD"
# @TEST-PORT: HAMAD_PORT
# @TEST-EXEC: python3 $PCAPGEN trace.pcap
# @TEST-EXEC: btest-bg-run worker "$RUN_WORKER --port ${HAMAD_PORT%/tcp} --heartbeat-interval 0.5 --state-dir state"
# @TEST-EXEC: zeek -C -r trace.pcap $PACKAGE HAMAD::listen_port=$HAMAD_PORT
# @TEST-EXEC: $STOP_WORKER worker
# @TEST-EXEC: btest-bg-wait 30
# @TEST-EXEC: zeek-cut learning < hamad.log | sort | uniq -c | awk '{ print $2 }' > learning.cut
# @TEST-EXEC: btest-diff learning.cut
# @TEST-EXEC: touch notice.log && zeek-cut note < notice.log | sort -u > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: $HAMAD learn status --state-dir worker/state --json | python3 -c "import json, sys; d = json.load(sys.stdin); print(d['phase'], d['learned'] > 0)" > status.cut
# @TEST-EXEC: btest-diff status.cut
