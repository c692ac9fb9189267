#!/usr/bin/env escript
%%! +S 1
%% The Erlang side of tests/erlang_semantics_test.ts: runs each scenario
%% read from stdin (terms {scenario, Id, K, Steps}, written by the test) on
%% this node and prints one line per scenario, in the same words as the
%% test's Mote side, so the two can be compared line by line.
%%
%% One scheduler (+S 1): a dying process sends its exit signals and DOWNs
%% one by one, and with two schedulers the controller's ping could overtake
%% a DOWN still to be sent (1 run in 200 of one scenario differed); with
%% one, a death's signals are all out before the controller runs again.
-mode(compile).

main([]) ->
    % A process that dies of an error is part of a scenario, not news.
    logger:set_primary_config(level, none),
    lists:foreach(fun run/1, read_terms([])),
    halt(0).

read_terms(Acc) ->
    case io:read(standard_io, '') of
        {ok, Term} -> read_terms([Term | Acc]);
        eof -> lists:reverse(Acc)
    end.

run({scenario, Id, K, Steps}) ->
    Ctl = self(),
    Pids = [spawn(fun() -> init(Ctl) end) || _ <- lists:seq(1, K)],
    Tab = list_to_tuple(Pids),
    [P ! {init, Tab, I} || {P, I} <- lists:zip(Pids, lists:seq(0, K - 1))],
    [receive {ready, I} -> ok end || I <- lists:seq(0, K - 1)],
    Mons = maps:from_list(
             [{erlang:monitor(process, P), I}
              || {P, I} <- lists:zip(Pids, lists:seq(0, K - 1))]),
    St0 = #{tab => Tab, mons => Mons, alive => lists:seq(0, K - 1),
            dead => #{}, events => #{}, step => 0},
    St1 = lists:foldl(fun step/2, St0, Steps),
    St2 = barrier(St1),
    Line = [io_lib:format("~p", [Id]) |
            [describe(I, St2) || I <- lists:seq(0, K - 1)]],
    % Each process's DOWN comes after all it sent: once every DOWN is in,
    % nothing of this scenario can reach the next one.
    [exit(P, kill) || P <- Pids],
    [receive {'DOWN', R, process, _, _} -> ok end
     || R <- maps:keys(Mons),
        not maps:is_key(maps:get(R, Mons), maps:get(dead, St2))],
    flush_all(),
    io:format("~s~n", [lists:join(" ; ", Line)]).

flush_all() -> receive _ -> flush_all() after 0 -> ok end.

describe(I, #{events := Events, dead := Dead}) ->
    Evs = lists:reverse(maps:get(I, Events, [])),
    Status = case maps:find(I, Dead) of
                 {ok, {N, R}} -> io_lib:format("dead ~p ~s", [N, reason(R)]);
                 error -> "alive"
             end,
    io_lib:format("p~p: ~s | ~s", [I, lists:join(", ", Evs), Status]).

%% One step: the actor does it (if alive), then every process catches up.
step({Actor, Cmd}, St = #{alive := Alive, tab := Tab, step := N}) ->
    St1 = St#{step := N + 1},
    case lists:member(Actor, Alive) of
        false -> St1;
        true ->
            element(Actor + 1, Tab) ! {cmd, Cmd},
            barrier(await_ack(Actor, St1))
    end.

%% Waits for the actor's ack, or for its death.
await_ack(Actor, St) ->
    receive
        {ack, Actor} -> St;
        Msg ->
            St1 = handle(Msg, St),
            case lists:member(Actor, maps:get(alive, St1)) of
                true -> await_ack(Actor, St1);
                false -> St1
            end
    end.

%% Pings every live process until a round passes with no death: then each
%% has taken every signal sent to it.
barrier(St = #{alive := Alive, tab := Tab}) ->
    [element(I + 1, Tab) ! {ping, self()} || I <- Alive],
    St1 = await_round(Alive, St),
    case maps:get(alive, St1) of
        Alive -> St1;
        _ -> barrier(St1)
    end.

await_round([], St) -> St;
await_round(Waiting, St) ->
    receive
        {pong, I} -> await_round(lists:delete(I, Waiting), St);
        Msg ->
            St1 = handle(Msg, St),
            await_round([I || I <- Waiting,
                              lists:member(I, maps:get(alive, St1))], St1)
    end.

handle({event, I, E}, St = #{events := Events, step := N}) ->
    Line = io_lib:format("~p:~s", [N, E]),
    St#{events := Events#{I => [Line | maps:get(I, Events, [])]}};
handle({'DOWN', Ref, process, _, R}, St = #{mons := Mons, alive := Alive,
                                             dead := Dead, step := N}) ->
    I = maps:get(Ref, Mons),
    St#{alive := lists:delete(I, Alive), dead := Dead#{I => {N, R}}};
handle({ack, _}, St) -> St;
handle({pong, _}, St) -> St.

%% Reasons in the words of the Mote side: an uncaught error {R, Stack} is R.
reason({R, Stack}) when is_list(Stack) -> reason(R);
reason(R) when is_atom(R) -> atom_to_list(R);
reason(R) -> io_lib:format("~p", [R]).

%% A process of the scenario.
init(Ctl) ->
    receive
        {init, Tab, Me} ->
            register(name(Me), self()),
            Ctl ! {ready, Me},
            loop(Ctl, Tab, Me, #{})
    end.

name(I) -> list_to_atom("n" ++ integer_to_list(I)).

loop(Ctl, Tab, Me, Refs) ->
    receive
        {cmd, Cmd} ->
            Refs1 = do(Cmd, Tab, Refs),
            Ctl ! {ack, Me},
            loop(Ctl, Tab, Me, Refs1);
        {ping, Ctl} ->
            Ctl ! {pong, Me},
            loop(Ctl, Tab, Me, Refs);
        Other ->
            Ctl ! {event, Me, event(Other, Tab, Refs)},
            loop(Ctl, Tab, Me, Refs)
    end.

pid(J, Tab) -> element(J + 1, Tab).

do({trap, B}, _, Refs) -> process_flag(trap_exit, B), Refs;
do({link, J}, Tab, Refs) -> link(pid(J, Tab)), Refs;
do({unlink, J}, Tab, Refs) -> unlink(pid(J, Tab)), Refs;
do({monitor, J, M}, Tab, Refs) ->
    Refs#{erlang:monitor(process, pid(J, Tab)) => M};
do({monitor_name, J, M}, _, Refs) ->
    Refs#{erlang:monitor(process, name(J)) => M};
do({demonitor, M, Flush}, _, Refs) ->
    [Ref] = [R || {R, X} <- maps:to_list(Refs), X =:= M],
    erlang:demonitor(Ref, case Flush of true -> [flush]; false -> [] end),
    Refs;
do({exit, J, R}, Tab, Refs) -> exit(pid(J, Tab), R), Refs;
do({stop, R}, _, _) -> exit(R);
do(crash, _, _) -> error(boom);
do({send, J, N}, Tab, Refs) -> pid(J, Tab) ! {msg, N}, Refs.

event({'EXIT', P, R}, Tab, _) ->
    io_lib:format("exit p~p ~s", [index(P, Tab), reason(R)]);
event({'DOWN', Ref, process, {Name, _Node}, R}, _, Refs) ->
    io_lib:format("down m~p ~s ~s", [maps:get(Ref, Refs), Name, reason(R)]);
event({'DOWN', Ref, process, P, R}, Tab, Refs) ->
    io_lib:format("down m~p p~p ~s",
                  [maps:get(Ref, Refs), index(P, Tab), reason(R)]);
event({msg, N}, _, _) -> io_lib:format("msg ~p", [N]).

index(P, Tab) -> index(P, Tab, 1).
index(P, Tab, I) ->
    case element(I, Tab) of
        P -> I - 1;
        _ -> index(P, Tab, I + 1)
    end.
