#!/usr/bin/env escript
%%! +S 1
%% The Erlang side of tests/erlang_groups_test.ts: runs each scenario read
%% from stdin (terms {scenario, Id, Steps}, written by the test) against
%% OTP's `pg` (one node, a fresh scope per scenario), and prints one line
%% per scenario in the same words as the test's Mote side.
%%
%% Steps: {join, G, Members}, {leave, G, Members}, {exit, Member},
%% {monitor, Watcher, G}, {monitor_scope, Watcher}, {demonitor, Watcher}.
%% Members are m0..m3, watchers w0 and w1, groups g0..g2 (atoms here,
%% strings on the Mote side). After each step the scope is synced
%% (sys:get_state) and the state logged; at the end each watcher's events.
-mode(compile).

-define(GROUPS, [g0, g1, g2]).

main(_) ->
    logger:set_primary_config(level, none),
    lists:foreach(fun(S) -> io:format("~s~n", [run(S)]) end, read_terms([])),
    halt(0).

read_terms(Acc) ->
    case io:read(standard_io, '') of
        {ok, Term} -> read_terms([Term | Acc]);
        eof -> lists:reverse(Acc)
    end.

run({scenario, Id, Steps}) ->
    Scope = list_to_atom("pg_scenario_" ++ integer_to_list(Id)),
    {ok, ScopePid} = pg:start(Scope),
    Members = [{M, spawn(fun member/0)} || M <- [m0, m1, m2, m3]],
    Watchers = [{W, spawn(fun() -> watcher(Scope, undefined, []) end)} || W <- [w0, w1]],
    Roles = [{P, R} || {R, P} <- Members ++ Watchers],
    Env = #{scope => Scope, members => Members, watchers => Watchers, roles => Roles},
    Log = [begin
               Result = step(Env, S),
               _ = sys:get_state(Scope), % every DOWN so far is handled
               Result ++ " | " ++ state(Env)
           end || S <- Steps],
    Events = [atom_to_list(W) ++ ": " ++ events(Env, P) || {W, P} <- Watchers],
    [exit(P, kill) || {_, P} <- Members ++ Watchers],
    gen_server:stop(ScopePid),
    lists:flatten(lists:join("; ", Log ++ Events)).

member() -> receive stop -> ok end.

%% A watcher runs what it is asked (pg:monitor is for the caller itself),
%% keeps its latest ref, and keeps every other message, in order.
watcher(Scope, Ref, Seen) ->
    receive
        {do, From, monitor, G} ->
            {R, Pids} = pg:monitor(Scope, G),
            From ! {done, Pids},
            watcher(Scope, R, Seen);
        {do, From, monitor_scope} ->
            {R, Map} = pg:monitor_scope(Scope),
            From ! {done, Map},
            watcher(Scope, R, Seen);
        {do, From, demonitor} ->
            Res = case Ref of
                undefined -> false;
                _ -> pg:demonitor(Scope, Ref)
            end,
            From ! {done, Res},
            watcher(Scope, Ref, Seen);
        {report, From} ->
            From ! {seen, lists:reverse(Seen)},
            watcher(Scope, Ref, Seen);
        Other ->
            watcher(Scope, Ref, [Other | Seen])
    end.

ask(Env, W, Req) ->
    P = proplists:get_value(W, maps:get(watchers, Env)),
    P ! list_to_tuple([do, self() | Req]),
    receive {done, Res} -> Res end.

pids(Env, Ms) -> [proplists:get_value(M, maps:get(members, Env)) || M <- Ms].

step(Env, {join, G, Ms}) ->
    ok = pg:join(maps:get(scope, Env), G, pids(Env, Ms)),
    "join ok";
step(Env, {leave, G, Ms}) ->
    "leave " ++ atom_to_list(pg:leave(maps:get(scope, Env), G, pids(Env, Ms)));
step(Env, {exit, M}) ->
    [P] = pids(Env, [M]),
    Ref = erlang:monitor(process, P),
    P ! stop,
    receive {'DOWN', Ref, process, P, _} -> ok end,
    "exit";
step(Env, {monitor, W, G}) ->
    Pids = ask(Env, W, [monitor, G]),
    "mon " ++ atom_to_list(W) ++ " " ++ roles(Env, Pids);
step(Env, {monitor_scope, W}) ->
    Map = ask(Env, W, [monitor_scope]),
    "monscope " ++ atom_to_list(W) ++ " {" ++
        lists:join(",", [atom_to_list(G) ++ ":" ++ roles(Env, Ps)
                         || {G, Ps} <- lists:sort(maps:to_list(Map))]) ++ "}";
step(Env, {demonitor, W}) ->
    case ask(Env, W, [demonitor]) of
        ok -> "demon " ++ atom_to_list(W) ++ " true";
        false -> "demon " ++ atom_to_list(W) ++ " false"
    end.

state(Env) ->
    Scope = maps:get(scope, Env),
    Gs = [atom_to_list(G) ++ "=" ++ roles(Env, pg:get_members(Scope, G)) || G <- ?GROUPS],
    Which = [atom_to_list(G) || G <- lists:sort(pg:which_groups(Scope))],
    lists:flatten(lists:join(" ", Gs) ++ " wg=[" ++ lists:join(",", Which) ++ "]").

role(Env, P) ->
    case proplists:get_value(P, maps:get(roles, Env)) of
        undefined -> "?";
        R -> atom_to_list(R)
    end.

roles(Env, Pids) ->
    "[" ++ lists:join(",", lists:sort([role(Env, P) || P <- Pids])) ++ "]".

%% Each event flattened to one item per pid, then split by group: the order
%% within a group is the order of the steps; across groups it is not kept.
events(Env, Watcher) ->
    Watcher ! {report, self()},
    Seen = receive {seen, S} -> S end,
    Items = lists:append([[{G, Kind ++ " " ++ R} || R <- lists:sort([role(Env, P) || P <- Ps])]
                          || {_Ref, K, G, Ps} <- Seen, Kind <- [atom_to_list(K)]]),
    Others = [M || M <- Seen, not is_event(M)],
    PerGroup = [atom_to_list(G) ++ ":[" ++ lists:join(",", [I || {G2, I} <- Items, G2 =:= G]) ++ "]"
                || G <- ?GROUPS],
    lists:flatten(lists:join(" ", PerGroup) ++ io_lib:format(" other=~b", [length(Others)])).

is_event({_, join, _, _}) -> true;
is_event({_, leave, _, _}) -> true;
is_event(_) -> false.
