#!/usr/bin/env escript
%%! +S 1
%% The Erlang side of tests/erlang_semantics_test.ts: runs each scenario
%% read from stdin (terms {scenario, Id, K, Steps}, written by the test) and
%% prints one line per scenario, in the same words as the test's Mote side,
%% so the two can be compared line by line. With no argument, all processes
%% live on this node; with `dist`, process i lives on node i rem 2 of two
%% (this one and a peer), and a step {-1, disconnect} cuts their connection.
%% The processes are in semantics_proc.erl, beside this file.
%%
%% One scheduler (+S 1): a dying process sends its exit signals and DOWNs
%% one by one, and with two schedulers the controller's ping could overtake
%% a DOWN still to be sent (1 run in 200 of one scenario differed); with
%% one, a death's signals are all out before the controller runs again.
-mode(compile).

main(Args) ->
    % A process that dies of an error is part of a scenario, not news.
    logger:set_primary_config(level, none),
    {ok, Mod, Bin} = compile:file(proc_source(), [binary, report]),
    Nodes = case Args of
                [] -> [node()];
                ["dist"] -> start_peer()
            end,
    [{module, Mod} = erpc:call(N, code, load_binary, [Mod, "semantics_proc.erl", Bin])
     || N <- Nodes],
    lists:foreach(fun(S) -> run(Nodes, S) end, read_terms([])),
    halt(0).

proc_source() ->
    filename:join(filename:dirname(escript:script_name()), "semantics_proc.erl").

start_peer() ->
    os:cmd("epmd -daemon"),
    wait_for_epmd(100),
    Name = list_to_atom("semctl" ++ os:getpid()),
    {ok, _} = net_kernel:start([Name, shortnames]),
    % Controlled over its stdio, not over distribution: a peer whose
    % control connection is the distribution one halts when it is cut.
    {ok, _Peer, Peer} = peer:start_link(#{name => peer:random_name(),
                                          connection => standard_io,
                                          args => ["+S", "1"]}),
    [node(), Peer].

% `epmd -daemon` returns before the daemon listens, and net_kernel gives up
% at once if no epmd answers.
wait_for_epmd(0) -> error(epmd_did_not_start);
wait_for_epmd(Tries) ->
    case erl_epmd:names() of
        {ok, _} -> ok;
        {error, _} -> timer:sleep(50), wait_for_epmd(Tries - 1)
    end.

read_terms(Acc) ->
    case io:read(standard_io, '') of
        {ok, Term} -> read_terms([Term | Acc]);
        eof -> lists:reverse(Acc)
    end.

run(Nodes, {scenario, Id, K, Steps}) ->
    Ctl = self(),
    Indices = lists:seq(0, K - 1),
    NodeOf = fun(I) -> lists:nth(I rem length(Nodes) + 1, Nodes) end,
    Pids = [spawn(NodeOf(I), semantics_proc, init, [Ctl]) || I <- Indices],
    Tab = list_to_tuple(Pids),
    [P ! {init, Tab, I} || {P, I} <- lists:zip(Pids, Indices)],
    [receive {ready, I} -> ok end || I <- Indices],
    Helpers = [spawn(N, semantics_proc, helper, [Ctl]) || N <- Nodes],
    [H ! {watch, [{I, P} || {P, I} <- lists:zip(Pids, Indices),
                            node(P) =:= node(H)]}
     || H <- Helpers],
    [receive {watching, H} -> ok end || H <- Helpers],
    St0 = #{tab => Tab, helpers => Helpers, nodes => Nodes, alive => Indices,
            dead => #{}, events => #{}, step => 0},
    St1 = lists:foldl(fun step/2, St0, Steps),
    St2 = barrier(St1),
    Line = [io_lib:format("~p", [Id]) | [describe(I, St2) || I <- Indices]],
    % Each process's DOWN comes after all it sent: once every DOWN is in,
    % nothing of this scenario can reach the next one.
    All = Pids ++ Helpers,
    Refs = [erlang:monitor(process, P) || P <- All],
    [exit(P, kill) || P <- All],
    [receive {'DOWN', R, process, _, _} -> ok end || R <- Refs],
    flush_all(),
    io:format("~s~n", [lists:join(" ; ", Line)]).

flush_all() -> receive _ -> flush_all() after 0 -> ok end.

describe(I, #{events := Events, dead := Dead}) ->
    Evs = lists:reverse(maps:get(I, Events, [])),
    Status = case maps:find(I, Dead) of
                 {ok, {N, R}} ->
                     io_lib:format("dead ~p ~s", [N, semantics_proc:reason(R)]);
                 error -> "alive"
             end,
    io_lib:format("p~p: ~s | ~s", [I, lists:join(", ", Evs), Status]).

%% One step: the actor does it (if alive), then every process catches up.
step({_, disconnect}, St = #{nodes := [_, Other], step := N}) ->
    erlang:disconnect_node(Other),
    barrier(St#{step := N + 1});
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

%% Has every node's helper ping every live process, until a round finds no
%% death: then each has taken every signal sent to it.
barrier(St = #{alive := Alive, tab := Tab, helpers := Helpers}) ->
    Targets = [{I, element(I + 1, Tab)} || I <- Alive],
    [H ! {round, Targets} || H <- Helpers],
    {St1, Seen} = await_rounds(length(Helpers), St, []),
    St2 = await_deaths(Seen, St1),
    case maps:get(alive, St2) of
        Alive -> St2;
        _ -> barrier(St2)
    end.

await_rounds(0, St, Seen) -> {St, Seen};
await_rounds(N, St, Seen) ->
    receive
        {round_done, Dead} -> await_rounds(N - 1, St, Dead ++ Seen);
        Msg -> await_rounds(N, handle(Msg, St), Seen)
    end.

%% The helper that watches a process a round found dead tells of it too.
await_deaths(Seen, St) ->
    case [I || I <- Seen, lists:member(I, maps:get(alive, St))] of
        [] -> St;
        _ -> receive Msg -> await_deaths(Seen, handle(Msg, St)) end
    end.

handle({event, I, E}, St = #{events := Events, step := N}) ->
    Line = io_lib:format("~p:~s", [N, E]),
    St#{events := Events#{I => [Line | maps:get(I, Events, [])]}};
handle({died, I, R}, St = #{alive := Alive, dead := Dead, step := N}) ->
    St#{alive := lists:delete(I, Alive), dead := Dead#{I => {N, R}}};
handle({ack, _}, St) -> St.
