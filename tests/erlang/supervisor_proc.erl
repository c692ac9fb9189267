%% The processes of tests/erlang/supervisor.escript: the controller that runs
%% one scenario against a real `supervisor`, the supervisor's callback, the
%% children it starts (a gen_server trapping exits, a plain process, and a
%% stubborn one that traps exits and ignores them), and the observer that
%% keeps the ordered log of what happened. The test's Mote side
%% (tests/erlang_supervisor_test.ts) does the same things in the same words.
%%
%% One module plays both callbacks: the supervisor's init gets {sup, ...},
%% the gen_server child's init gets {child, ...}.
-module(supervisor_proc).
-export([run/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).
-export([start_child/2]).

-define(PERIOD, 3600). % seconds: restarts are counted by number only

%% Runs one scenario and returns its line.
run({scenario, Id, Strategy, Intensity, Children, Steps, End}) ->
    process_flag(trap_exit, true),
    Obs = spawn(fun() -> observer([], #{}, #{}, #{}) end),
    Flags = #{strategy => Strategy, intensity => Intensity, period => ?PERIOD},
    Specs = [spec(C, Obs) || C <- Children],
    Parts =
        case supervisor:start_link(?MODULE, {sup, Flags, Specs}) of
            {ok, Sup} ->
                P0 = part(0, "started", Obs, settle(Sup)),
                {Ps, Alive} = lists:foldl(
                                fun(Step, {Acc, A}) -> do_step(Step, Sup, Obs, Acc, A) end,
                                {[P0], true}, lists:zip(lists:seq(1, length(Steps)), Steps)),
                Last = case Alive of
                           true ->
                               Ref = erlang:monitor(process, Sup),
                               exit(Sup, End),
                               receive {'DOWN', Ref, process, _, _} -> ok end,
                               await_children(Obs),
                               part(end_, "stopped " ++ reason(End), Obs, dead);
                           false -> part(end_, "gone", Obs, dead)
                       end,
                lists:reverse([Last | Ps]);
            {error, Reason} ->
                % The supervisor acks the failure, then exits: wait for it.
                receive {'EXIT', _, _} -> ok end,
                [part(0, "start_failed " ++ reason(Reason), Obs, dead)]
        end,
    cleanup(Obs),
    lists:flatten([io_lib:format("~p", [Id]), " ; ", lists:join(" ; ", Parts)]).

do_step(_, _, _, Acc, false) -> {Acc, false};
do_step({N, Step}, Sup, Obs, Acc, true) ->
    Result = step(Step, Sup, Obs),
    Children = settle(Sup),
    Children =:= dead andalso await_children(Obs),
    {[part(N, Result, Obs, Children) | Acc], Children =/= dead}.

step({stop, Id, R}, Sup, _) -> poke(Sup, Id, fun(P) -> P ! {stop, R} end);
step({exit, Id, R}, Sup, _) -> poke(Sup, Id, fun(P) -> exit(P, R) end);
step({exit_sup, R}, Sup, _) ->
    % From a process that is neither its parent nor its child.
    Self = self(),
    spawn(fun() -> exit(Sup, R), Self ! sent end),
    receive sent -> "sent " ++ reason(R) end;
step({terminate, Id}, Sup, _) -> result(catch supervisor:terminate_child(Sup, Id));
step({delete, Id}, Sup, _) -> result(catch supervisor:delete_child(Sup, Id));
step({restart, Id}, Sup, _) -> result(catch supervisor:restart_child(Sup, Id));
step({start, C}, Sup, Obs) -> result(catch supervisor:start_child(Sup, spec(C, Obs))).

%% Makes a running child do something, and waits until it has: it answers
%% a ping sent afterwards, or it is gone.
poke(Sup, Id, F) ->
    case [P || {I, P, _, _} <- supervisor:which_children(Sup), I =:= Id, is_pid(P)] of
        [] -> "none";
        [P] ->
            Ref = erlang:monitor(process, P),
            F(P),
            P ! {ping, self()},
            receive
                pong -> erlang:demonitor(Ref, [flush]), "alive";
                {'DOWN', Ref, process, _, _} -> "dead"
            end
    end.

result(ok) -> "ok";
result({ok, _}) -> "ok";
result({error, {already_started, _}}) -> "error already_started";
% A failed start: the reason, with the child's record.
result({error, {R, Child}}) when element(1, Child) =:= child -> "error " ++ reason(R);
result({error, R}) -> "error " ++ reason(R);
result({'EXIT', R}) -> "exit " ++ reason(R).

%% Asks the supervisor for its children until none is being restarted (a
%% failed restart is tried again through a message to itself): by then it
%% has handled every exit that reached it before. Then counts them.
settle(Sup) ->
    case catch supervisor:which_children(Sup) of
        {'EXIT', _} -> dead;
        L ->
            case [x || {_, restarting, _, _} <- L] of
                [] ->
                    case catch supervisor:count_children(Sup) of
                        {'EXIT', _} -> dead;
                        Counts -> {L, Counts}
                    end;
                _ -> settle(Sup)
            end
    end.

%% One step's part of the line: its result, the events since the last
%% step, the children as which_children lists them, and count_children.
part(N, Result, Obs, Children) ->
    Obs ! {dump, self()},
    {Events, Incs} = receive {events, E, I} -> {E, I} end,
    Kids = case Children of
               dead -> "dead";
               {L, Counts} ->
                   [lists:join(" ", [child_text(C, Incs) || C <- L]),
                    io_lib:format(" [specs=~p active=~p supervisors=~p workers=~p]",
                                  [proplists:get_value(K, Counts)
                                   || K <- [specs, active, supervisors, workers]])]
           end,
    Step = case N of end_ -> "end"; _ -> integer_to_list(N) end,
    io_lib:format("~s: ~s | ~s | ~s", [Step, Result, lists:join(", ", Events), Kids]).

child_text({Id, P, Type, _}, Incs) when is_pid(P) ->
    io_lib:format("~s#~p~s", [Id, maps:get(P, Incs), type_text(Type)]);
child_text({Id, P, Type, _}, _) ->
    io_lib:format("~s#~p~s", [Id, P, type_text(Type)]).

type_text(worker) -> "";
type_text(supervisor) -> "/supervisor".

%% Waits until each child has taken the exit signal of a supervisor that
%% was killed: it answers a ping, or it is gone.
await_children(Obs) ->
    Obs ! {pids, self()},
    Pids = receive {pids, Ps} -> Ps end,
    [begin
         Ref = erlang:monitor(process, P),
         P ! {ping, self()},
         receive
             pong -> erlang:demonitor(Ref, [flush]);
             {'DOWN', Ref, process, _, _} -> ok
         end
     end || P <- Pids].

%% Kills what outlived the scenario (a stubborn child whose supervisor was
%% killed), and waits until it is gone.
cleanup(Obs) ->
    Obs ! {pids, self()},
    Pids = receive {pids, Ps} -> Ps end,
    Refs = [erlang:monitor(process, P) || P <- [Obs | Pids]],
    [exit(P, kill) || P <- [Obs | Pids]],
    [receive {'DOWN', R, process, _, _} -> ok end || R <- Refs],
    flush_all().

flush_all() -> receive _ -> flush_all() after 0 -> ok end.

spec({child, Id, Restart, _Kind, Shutdown, _FailOn, Type} = C, Obs) ->
    #{id => Id, start => {?MODULE, start_child, [C, Obs]},
      restart => Restart, shutdown => Shutdown, type => Type}.

%% A child's start, run by the supervisor: counts the attempt (the first
%% one has the observer watch the supervisor), fails it if the scenario
%% says so, and has the observer watch the child before the supervisor
%% learns its pid (so nothing can end it unwatched).
start_child({child, Id, _, Kind, _, FailOn, _}, Obs) ->
    Obs ! {next, Id, self()},
    K = receive {next, Id, N} -> N end,
    case lists:member(K, FailOn) of
        true ->
            Obs ! {fail, Id, K},
            {error, fail};
        false ->
            Pid = case Kind of
                      server ->
                          {ok, P} = gen_server:start_link(?MODULE, {child, Id, K, Obs}, []),
                          P;
                      plain -> plain(false);
                      stubborn -> plain(true)
                  end,
            Obs ! {watch, Pid, Id, K, self()},
            receive {watching, Pid} -> ok end,
            {ok, Pid}
    end.

plain(Trap) ->
    Self = self(),
    Pid = spawn_link(fun() ->
                             process_flag(trap_exit, Trap),
                             Self ! {ready, self()},
                             plain_loop()
                     end),
    receive {ready, Pid} -> Pid end.

plain_loop() ->
    receive
        {stop, crash} -> error(boom);
        {stop, R} -> exit(R);
        {ping, From} -> From ! pong, plain_loop();
        _ -> plain_loop()
    end.

%% The callbacks: the supervisor's, and the gen_server child's.
init({sup, Flags, Specs}) -> {ok, {Flags, Specs}};
init({child, Id, K, Obs}) ->
    process_flag(trap_exit, true),
    {ok, {Id, K, Obs}}.

handle_call(_, _, S) -> {reply, ok, S}.
handle_cast(_, S) -> {noreply, S}.

handle_info({stop, crash}, _) -> error(boom);
handle_info({stop, R}, S) -> {stop, R, S};
handle_info({ping, From}, S) -> From ! pong, {noreply, S};
handle_info(_, S) -> {noreply, S}.

terminate(R, {Id, K, Obs}) -> Obs ! {term, Id, K, R}.

%% The observer: the ordered log of the scenario's events, the start count
%% of each child id (and {sup} once it watches the supervisor), and the
%% incarnation of each child pid.
observer(Log, Counts, Watched, Incs) ->
    receive
        {next, Id, Sup} ->
            N = maps:get(Id, Counts, 0) + 1,
            Watched1 = case maps:is_key({sup}, Counts) of
                           true -> Watched;
                           false -> Watched#{erlang:monitor(process, Sup) => "sup"}
                       end,
            Sup ! {next, Id, N},
            observer(Log, Counts#{Id => N, {sup} => true}, Watched1, Incs);
        {fail, Id, K} ->
            observer([ev("fail ~s#~p", [Id, K]) | Log], Counts, Watched, Incs);
        {watch, Pid, Id, K, From} ->
            Ref = erlang:monitor(process, Pid),
            From ! {watching, Pid},
            observer([ev("start ~s#~p", [Id, K]) | Log], Counts,
                     Watched#{Ref => io_lib:format("~s#~p", [Id, K])}, Incs#{Pid => K});
        {term, Id, K, R} ->
            observer([ev("term ~s#~p ~s", [Id, K, reason(R)]) | Log], Counts, Watched, Incs);
        {'DOWN', Ref, process, _, R} ->
            Who = maps:get(Ref, Watched),
            observer([ev("exit ~s ~s", [Who, reason(R)]) | Log], Counts,
                     maps:remove(Ref, Watched), Incs);
        {dump, From} ->
            From ! {events, lists:reverse(Log), Incs},
            observer([], Counts, Watched, Incs);
        {pids, From} ->
            From ! {pids, maps:keys(Incs)},
            observer(Log, Counts, Watched, Incs)
    end.

ev(Format, Args) -> lists:flatten(io_lib:format(Format, Args)).

%% Reasons in the words of the Mote side: an uncaught error {R, Stack} is R.
reason({R, Stack}) when is_list(Stack) -> reason(R);
reason(R) when is_atom(R) -> atom_to_list(R);
reason(R) -> lists:flatten(io_lib:format("~w", [R])).
