%% The Erlang baseline for bench/dist.ts: one-way messages to a remote
%% registered process, 64 KiB binaries in bulk, and ping-pong round trips,
%% between two nodes in two OS processes on loopback, printed as JSON lines
%% with an "erlang." prefix. Optional: it needs Erlang/OTP
%% (`apt-get install -y erlang-base`), which Mote does not.
%% bench/erlang/compare_dist.ts runs it; by hand:
%%
%%   erlc dist_bench.erl
%%   erl -name b@127.0.0.1 -setcookie bench -noshell -s dist_bench serve &
%%   erl -name a@127.0.0.1 -setcookie bench -noshell -s dist_bench main
%%
%% Default schedulers: Erlang as people run it. Flow control is Erlang's own:
%% a sender blocks while the connection's buffer is full (+zdbbl, 1 MiB).
-module(dist_bench).
-export([main/0, serve/0]).

-define(PEER, 'b@127.0.0.1').

report(Name, Value, Unit) ->
    io:format("{\"name\":\"erlang.~s\",\"value\":~.6g,\"unit\":\"~s\"}~n",
              [Name, float(Value), Unit]).

now_us() -> erlang:monotonic_time(microsecond).

%% The serving node: a sink that counts what it gets, and a pong.
serve() ->
    register(sink, spawn(fun() -> sink(0, 0) end)),
    register(pong, spawn(fun pong/0)),
    receive stop -> ok end.

sink(Count, Bytes) ->
    receive
        {done, From} -> From ! {sunk, Count, Bytes}, sink(0, 0);
        {n, _} -> sink(Count + 1, Bytes);
        Bin when is_binary(Bin) -> sink(Count + 1, Bytes + byte_size(Bin))
    end.

pong() ->
    receive {From, I} -> From ! I, pong() end.

%% The measuring node.
main() ->
    wait_for_peer(200),
    oneway(100000), % warm-up
    {Msgs, OnewayS} = oneway(1000000),
    report("dist.oneway", Msgs / OnewayS, "msgs/s"),
    Bin = binary:copy(<<1>>, 65536),
    bulk(Bin, 8000), % warm-up, as bench/dist.ts
    {Bytes, BulkS} = bulk(Bin, 8000),
    report("dist.bulk_mb_s", Bytes / BulkS / 1.0e6, "MB/s"),
    Pong = rpc:call(?PEER, erlang, whereis, [pong]),
    rtts(Pong, 25000), % warm-up, as bench/dist.ts
    Times = lists:sort(rtts(Pong, 20000)),
    report("dist.rtt_median_us", lists:nth(10000, Times), "us"),
    report("dist.rtt_p99_us", lists:nth(19800, Times), "us"),
    rpc:call(?PEER, erlang, halt, [], 1000), % {badrpc, nodedown}: gone
    halt().

wait_for_peer(0) -> io:format(standard_error, "no peer~n", []), halt(1);
wait_for_peer(N) ->
    case net_adm:ping(?PEER) of
        pong ->
            case rpc:call(?PEER, erlang, whereis, [sink]) of
                Pid when is_pid(Pid) -> ok;
                _ -> timer:sleep(50), wait_for_peer(N - 1)
            end;
        pang -> timer:sleep(50), wait_for_peer(N - 1)
    end.

oneway(N) ->
    T0 = now_us(),
    send_n(N),
    {sink, ?PEER} ! {done, self()},
    receive {sunk, N, _} -> ok end,
    {N, (now_us() - T0) / 1.0e6}.

send_n(0) -> ok;
send_n(I) -> {sink, ?PEER} ! {n, I}, send_n(I - 1).

bulk(Bin, N) ->
    T0 = now_us(),
    send_bin(Bin, N),
    {sink, ?PEER} ! {done, self()},
    receive {sunk, N, Bytes} -> ok end,
    {Bytes, (now_us() - T0) / 1.0e6}.

send_bin(_, 0) -> ok;
send_bin(Bin, I) -> {sink, ?PEER} ! Bin, send_bin(Bin, I - 1).

rtts(Pong, N) -> rtts(Pong, N, []).
rtts(_, 0, Acc) -> Acc;
rtts(Pong, N, Acc) ->
    T0 = erlang:monotonic_time(nanosecond),
    Pong ! {self(), N},
    receive N -> ok end,
    T = (erlang:monotonic_time(nanosecond) - T0) / 1000,
    rtts(Pong, N - 1, [T | Acc]).
