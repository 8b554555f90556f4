# @TEST-DOC: Out-of-range run-time option changes are refused (old value kept, reporter warning), valid ones applied.
#
# Zeek prints "received termination signal" on some releases only; not what is tested.
# @TEST-EXEC: zeek -b $PACKAGE %INPUT 2>&1 | grep -v "received termination signal" > output
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
	Option::set("HAMAD::interim_interval", 5sec);
	print "interim_interval", HAMAD::interim_interval;
	Option::set("HAMAD::interim_interval", 0sec);
	print "interim_interval", HAMAD::interim_interval;
	Option::set("HAMAD::host_notice_window", 2day);
	print "host_notice_window", HAMAD::host_notice_window;
	terminate();
	}
