%% The Erlang baseline for bench/local.ts: the same figures, measured the same
%% way, printed as the same JSON lines with an "erlang." prefix. Optional: it
%% needs Erlang/OTP (`apt-get install -y erlang-base`), which Mote does not.
%%
%%   cd bench/erlang && erlc local_bench.erl && \
%%     erl +S 1 +P 2000000 -noshell -s local_bench main
%%
%% One scheduler (+S 1), as Mote runs on one thread.
-module(local_bench).
-export([main/0]).

report(Name, Value, Unit) ->
    io:format("{\"name\":\"erlang.~s\",\"value\":~.4g,\"unit\":\"~s\"}~n",
              [Name, float(Value), Unit]).

now_us() -> erlang:monotonic_time(microsecond).

%% local.pingpong: round trips between two processes.
pong() -> receive From -> From ! 0, pong() end.
ping(_, 0) -> ok;
ping(Pong, N) -> Pong ! self(), receive _ -> ping(Pong, N - 1) end.
pingpong(N) ->
    Pong = spawn(fun pong/0),
    T0 = now_us(), ping(Pong, N), T1 = now_us(),
    exit(Pong, kill),
    N / ((T1 - T0) / 1.0e6).

%% local.pingpong_timed: the same, each receive with a 5 s timeout.
pong_timed() -> receive From -> From ! 0, pong_timed() after 5000 -> ok end.
ping_timed(_, 0) -> ok;
ping_timed(Pong, N) ->
    Pong ! self(),
    receive _ -> ping_timed(Pong, N - 1) after 5000 -> ok end.
pingpong_timed(N) ->
    Pong = spawn(fun pong_timed/0),
    T0 = now_us(), ping_timed(Pong, N), T1 = now_us(),
    exit(Pong, kill),
    N / ((T1 - T0) / 1.0e6).

%% local.oneway: N messages queued before the receiver takes them, timed
%% from the first send; local.oneway_drain: the receiver's part alone.
sink(0, Parent, T) -> Parent ! {done, now_us() - T};
sink(N, Parent, T) -> receive _ -> sink(N - 1, Parent, T) end.
oneway(N) ->
    Self = self(),
    T0 = now_us(),
    % Suspended until every message is queued, as a Mote body starts only on
    % a later turn than its spawn.
    Sink = spawn(fun() -> sink(N, Self, now_us()) end),
    erlang:suspend_process(Sink),
    send_n(Sink, N),
    erlang:resume_process(Sink),
    receive {done, Drain} -> ok end,
    {N / ((now_us() - T0) / 1.0e6), N / (Drain / 1.0e6)}.
send_n(_, 0) -> ok;
send_n(Pid, N) -> Pid ! N, send_n(Pid, N - 1).

%% local.spawn_*: processes waiting in receive; time and bytes each.
wait() -> receive _ -> ok end.
spawn_waiting(N) ->
    erlang:garbage_collect(),
    M0 = erlang:memory(total),
    T0 = now_us(),
    Pids = [spawn(fun wait/0) || _ <- lists:seq(1, N)],
    T1 = now_us(),
    M1 = erlang:memory(total),
    [exit(P, kill) || P <- Pids],
    {(T1 - T0) / 1.0e6, (M1 - M0) / N}.

%% local.ring_hops: a token passed around a ring.
ring_node(Next, Parent) ->
    receive
        {next, P} -> ring_node(P, Parent);
        0 -> Parent ! done;
        K -> Next ! K - 1, ring_node(Next, Parent)
    end.
ring(Size, Hops) ->
    Self = self(),
    Pids = [spawn(fun() -> ring_node(undefined, Self) end) || _ <- lists:seq(1, Size)],
    Nexts = tl(Pids) ++ [hd(Pids)],
    [P ! {next, Q} || {P, Q} <- lists:zip(Pids, Nexts)],
    T0 = now_us(),
    hd(Pids) ! Hops,
    receive done -> ok end,
    T1 = now_us(),
    [exit(P, kill) || P <- Pids],
    Hops / ((T1 - T0) / 1.0e6).

%% local.down_us: monitors on N processes, all killed; µs per Down.
downs(N) ->
    Targets = [spawn(fun wait/0) || _ <- lists:seq(1, N)],
    [monitor(process, P) || P <- Targets],
    T0 = now_us(),
    [exit(P, kill) || P <- Targets],
    collect_downs(N),
    (now_us() - T0) / N.
collect_downs(0) -> ok;
collect_downs(N) -> receive {'DOWN', _, _, _, _} -> collect_downs(N - 1) end.

%% local.timer_set_cancel_ns: erlang:send_after then cancel_timer, ns each.
timer_set_cancel(N) ->
    Pid = spawn(fun wait/0),
    T0 = now_us(),
    set_cancel(Pid, N),
    T1 = now_us(),
    exit(Pid, kill),
    (T1 - T0) * 1000 / N.
set_cancel(_, 0) -> ok;
set_cancel(Pid, N) ->
    erlang:cancel_timer(erlang:send_after(60000 + N rem 1000, Pid, N)),
    set_cancel(Pid, N - 1).

%% local.timers_fire_ms: N timers of 10 ms into one process; ms until it
%% has every message.
count(0, Parent) -> Parent ! fired;
count(N, Parent) -> receive _ -> count(N - 1, Parent) end.
timers_fire(N) ->
    Self = self(),
    Pid = spawn(fun() -> count(N, Self) end),
    T0 = now_us(),
    [erlang:send_after(10, Pid, I) || I <- lists:seq(1, N)],
    receive fired -> ok end,
    (now_us() - T0) / 1000.

main() ->
    pingpong(100000),
    report("pingpong", pingpong(1000000), "round_trips/s"),
    pingpong_timed(100000),
    report("pingpong_timed", pingpong_timed(1000000), "round_trips/s"),
    oneway(100000),
    {Oneway, Drain} = oneway(1000000),
    report("oneway", Oneway, "msgs/s"),
    report("oneway_drain", Drain, "msgs/s"),
    {S100k, _} = spawn_waiting(100000),
    report("spawn_100k_s", S100k, "s"),
    {S1m, Bytes} = spawn_waiting(1000000),
    report("spawn_1m_s", S1m, "s"),
    report("bytes_per_process", Bytes, "bytes"),
    ring(1000, 100000),
    report("ring_hops", ring(10000, 1000000), "hops/s"),
    report("down_us", downs(100000), "us"),
    timer_set_cancel(100000),
    report("timer_set_cancel_ns", timer_set_cancel(1000000), "ns"),
    timers_fire(10000),
    report("timers_fire_ms", timers_fire(100000), "ms"),
    halt().
