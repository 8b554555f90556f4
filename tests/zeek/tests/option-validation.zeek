# @TEST-DOC: Out-of-range option changes are refused (old value kept), valid ones applied, startup-only options cannot change at run time.
#
# @TEST-EXEC: zeek -b $PACKAGE %INPUT > output
# @TEST-EXEC: btest-diff output

redef HAMAD::enabled = F;

event zeek_init() &priority=-20
	{
	Option::set("HAMAD::batch_size", 0);
	print "batch_size", HAMAD::batch_size;
	Option::set("HAMAD::batch_size", 50);
	print "batch_size", HAMAD::batch_size;
	Option::set("HAMAD::threshold_override", 1.5);
	print "threshold_override", HAMAD::threshold_override;
	Option::set("HAMAD::threshold_override", 0.7);
	print "threshold_override", HAMAD::threshold_override;
	Option::set("HAMAD::transport", "carrier-pigeon");
	print "transport", HAMAD::transport;
	Option::set("HAMAD::transport", "websocket");
	print "transport", HAMAD::transport;
	Option::set("HAMAD::interim_interval", 5sec);
	print "interim_interval ok", HAMAD::interim_interval == 10min;
	terminate();
	}
