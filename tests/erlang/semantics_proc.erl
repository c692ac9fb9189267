%% The processes of tests/erlang/semantics.escript, in a module of its own
%% so that a second node can load it: a scenario's process, and the helper
%% each node runs to watch its processes and ping them for the barrier.
-module(semantics_proc).
-export([init/1, helper/1, reason/1]).

%% A process of the scenario: obeys commands, answers pings, and tells the
%% controller of everything else it receives.
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
        {ping, From} ->
            From ! {pong, Me},
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
do({monitor_name, J, M}, Tab, Refs) ->
    Refs#{erlang:monitor(process, {name(J), node(pid(J, Tab))}) => M};
do({demonitor, M, Flush}, _, Refs) ->
    [Ref] = [R || {R, X} <- maps:to_list(Refs), X =:= M],
    erlang:demonitor(Ref, case Flush of true -> [flush]; false -> [] end),
    Refs;
do({exit, J, R}, Tab, Refs) -> exit(pid(J, Tab), R), Refs;
do({stop, R}, _, _) -> exit(R);
do(crash, _, _) -> error(boom);
do({spawn_link, How}, _, Refs) ->
    % The parent waits for its child to end, so that the child's exit
    % signal falls in this step on both sides.
    Child = spawn_link(fun() -> case How of crash -> error(boom); normal -> ok end end),
    Ref = erlang:monitor(process, Child),
    receive {'DOWN', Ref, process, _, _} -> Refs end;
do({send, J, N}, Tab, Refs) -> pid(J, Tab) ! {msg, N}, Refs.

event({'EXIT', P, R}, Tab, _) ->
    io_lib:format("exit p~p ~s", [index(P, Tab), reason(R)]);
event({'DOWN', Ref, process, {Name, _Node}, R}, _, Refs) ->
    io_lib:format("down m~p ~s ~s", [maps:get(Ref, Refs), Name, reason(R)]);
event({'DOWN', Ref, process, P, R}, Tab, Refs) ->
    io_lib:format("down m~p p~p ~s",
                  [maps:get(Ref, Refs), index(P, Tab), reason(R)]);
event({msg, N}, _, _) -> io_lib:format("msg ~p", [N]).

%% A pid not of the scenario (a child spawned by spawn_link) is -1.
index(P, Tab) -> index(P, Tab, 1).
index(_, Tab, I) when I > tuple_size(Tab) -> -1;
index(P, Tab, I) ->
    case element(I, Tab) of
        P -> I - 1;
        _ -> index(P, Tab, I + 1)
    end.

%% Reasons in the words of the Mote side: an uncaught error {R, Stack} is R.
reason({R, Stack}) when is_list(Stack) -> reason(R);
reason(R) when is_atom(R) -> atom_to_list(R);
reason(R) -> io_lib:format("~p", [R]).

%% A node's helper: reports the deaths of the processes it watches (local
%% monitors, which a lost connection leaves alone), and pings processes for
%% the barrier, so that each ping comes after what this node sent them.
helper(Ctl) -> helper(Ctl, #{}).

helper(Ctl, Watched) ->
    receive
        {watch, Procs} ->
            W = maps:from_list([{erlang:monitor(process, P), I}
                                || {I, P} <- Procs]),
            Ctl ! {watching, self()},
            helper(Ctl, maps:merge(Watched, W));
        {round, Targets} ->
            Dead = [I || {I, P} <- Targets, not answers(I, P)],
            Ctl ! {round_done, Dead},
            helper(Ctl, Watched);
        {'DOWN', Ref, process, _, R} ->
            case maps:find(Ref, Watched) of
                {ok, I} -> Ctl ! {died, I, R};
                error -> ok
            end,
            helper(Ctl, maps:remove(Ref, Watched))
    end.

answers(I, P) ->
    Ref = erlang:monitor(process, P),
    P ! {ping, self()},
    receive
        {pong, I} -> erlang:demonitor(Ref, [flush]), true;
        {'DOWN', Ref, process, _, _} -> false
    end.
