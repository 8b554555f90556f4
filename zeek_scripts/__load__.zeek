@load ./main
@load ./transport
@load ./notice
