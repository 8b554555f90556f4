# @TEST-DOC: zeek -r with a live worker (hamad serve on its defaults but the port and its state directory) that does not learn first: every connection in conn.log gets exactly one final verdict, the long SSH session an interim one, and the port scan a notice.
#
# @TEST-REQUIRES: test -x "$HAMAD"
# @TEST-PORT: HAMAD_PORT
# @TEST-EXEC: python3 $PCAPGEN trace.pcap
# @TEST-EXEC: btest-bg-run worker "$RUN_WORKER --port ${HAMAD_PORT%/tcp} --heartbeat-interval 0.5 --state-dir state"
# @TEST-EXEC: zeek -C -r trace.pcap $PACKAGE HAMAD::listen_port=$HAMAD_PORT HAMAD::interim_interval=1min HAMAD::learning_period=0secs
# @TEST-EXEC: $STOP_WORKER worker
# @TEST-EXEC: btest-bg-wait 30
# @TEST-EXEC: zeek-cut uid < conn.log | sort > conn.uids
# @TEST-EXEC: zeek-cut uid interim < hamad.log | awk '$2 == "F" { print $1 }' | sort > final.uids
# @TEST-EXEC: cmp conn.uids final.uids
# @TEST-EXEC: zeek-cut id.resp_p interim < hamad.log | awk '$2 == "T"' | sort -u > interim.cut
# @TEST-EXEC: btest-diff interim.cut
# @TEST-EXEC: zeek-cut note src < notice.log | sort -u > notice.cut
# @TEST-EXEC: btest-diff notice.cut
