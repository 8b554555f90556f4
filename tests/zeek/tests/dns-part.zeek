# @TEST-DOC: The optional DNS part of a summary: what Zeek's DNS analyzer saw of each DNS connection's queries (count, longest name, its entropy, query type), and nothing when HAMAD::send_dns is off.
#
# @TEST-PORT: HAMAD_PORT
# @TEST-EXEC: python3 $PCAPGEN trace.pcap
# @TEST-EXEC: zeek -C -r trace.pcap $PACKAGE %INPUT HAMAD::listen_port=$HAMAD_PORT HAMAD::startup_wait=1sec | sort > on.out
# @TEST-EXEC: btest-diff on.out
# @TEST-EXEC: zeek -C -r trace.pcap $PACKAGE %INPUT HAMAD::listen_port=$HAMAD_PORT HAMAD::startup_wait=1sec HAMAD::send_dns=F | sort > off.out
# @TEST-EXEC: btest-diff off.out

event connection_state_remove(c: connection) &priority=-4
	{
	if ( ! c?$conn || c$id$resp_p != 53/udp )
		return;

	local s = HAMAD::summary_from_conn(c);
	print c$id$orig_h, c$id$orig_p, s?$dns ? fmt("%s", s$dns) : "no DNS part";
	}
