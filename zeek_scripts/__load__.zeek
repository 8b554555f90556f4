@load ./main
@load ./transport
@load ./notice
@load ./telemetry
