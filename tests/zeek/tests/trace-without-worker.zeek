# @TEST-DOC: zeek -r with the package but no worker: the run ends by itself after startup_wait with one Worker_Unavailable notice, and every connection is still in conn.log.
#
# @TEST-PORT: HAMAD_PORT
# @TEST-EXEC: python3 $PCAPGEN trace.pcap
# @TEST-EXEC: zeek -C -r trace.pcap $PACKAGE HAMAD::listen_port=$HAMAD_PORT HAMAD::startup_wait=1sec
# @TEST-EXEC: zeek-cut note msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# Whether Zeek logs the trace's IGMP report (as unknown_transport) differs between builds of one
# release; HAMAD's part is that every other connection is there.
# @TEST-EXEC: zeek-cut id.orig_h id.resp_h id.resp_p proto conn_state < conn.log | awk '$4 != "unknown_transport"' | sort > conn.cut
# @TEST-EXEC: btest-diff conn.cut
