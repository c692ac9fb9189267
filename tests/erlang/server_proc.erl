%% The processes of tests/erlang/server.escript: the controller that runs
%% one scenario against a real `gen_server`, the server's callbacks, the
%% parent that starts it, the clients that call it, a process linked to it,
%% and the observer that monitors it and keeps its log. The test's Mote side
%% (tests/erlang_server_test.ts) does the same things in the same words.
%%
%% One module plays both servers: the one under test gets {srv, ...} in
%% init, the second one started under the same name gets {dup, Obs}.
-module(server_proc).
-export([run/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(SHORT, 50).  % ms: a call nobody answers in time
-define(LONG, 5000). % ms: a call that is answered, or fails, long before
-define(SELF, 200).  % ms: a server's call or stop aimed at itself

-define(CLIENTS, [c0, c1, c2, c3, c4]).

%% Runs one scenario and returns its line, in a fresh controller: a message
%% one scenario left to its controller must not reach the next.
run(Scenario) ->
    Self = self(),
    Ref = make_ref(),
    spawn(fun() -> Self ! {Ref, control(Scenario)} end),
    receive {Ref, Line} -> Line end.

control({scenario, Id, Trap, Link, Named, Init, TermCrash, Steps}) ->
    process_flag(trap_exit, true),
    Ctl = self(),
    Obs = spawn(fun() -> observer(#{}) end),
    P = spawn(fun() -> process_flag(trap_exit, true), parent([]) end),
    Buddy = spawn(fun() -> process_flag(trap_exit, true), buddy([]) end),
    Clients = maps:from_list([{C, spawn(fun() -> client(C, []) end)} || C <- ?CLIENTS]),
    Name = case Named of true -> srv; false -> undefined end,
    P ! {start, Ctl, Link, Name, {srv, Ctl, Obs, P, Trap, Init, TermCrash}},
    Log0 = receive
               {started, {ok, S}} ->
                   Obs ! {watch, S, Ctl},
                   receive watching -> ok end,
                   Buddy ! {link, S, Ctl},
                   receive linked -> ok end,
                   Env = #{s => S, name => Name, trap => Trap, clients => Clients,
                           obs => Obs, p => P},
                   {_, L} = lists:foldl(
                              fun(Step, {N, Acc}) ->
                                      R = step(Step, Env),
                                      Sync = sync(S),
                                      {N + 1, [io_lib:format("~p:~s ~s", [N, R, Sync]) | Acc]}
                              end, {1, ["started"]}, Steps),
                   Final = case is_process_alive(S) of
                               true -> "final " ++ stop_result(catch gen_server:stop(S, shutdown, ?LONG));
                               false -> "final dead"
                           end,
                   After = [Final, "after " ++ err(catch gen_server:call(S, get, ?LONG))],
                   lists:reverse(L) ++ After;
               {started, {error, Reason}} -> ["start_failed " ++ reason(Reason)]
           end,
    ByName = case Named of
                 true -> ["by_name " ++ err(catch gen_server:call(srv, get, ?LONG))];
                 false -> []
             end,
    Log = Log0 ++ ByName,
    ClientLogs = [begin
                      maps:get(C, Clients) ! {finish, Ctl},
                      receive {client_log, C, CL} -> {atom_to_list(C), CL} end
                  end || C <- ?CLIENTS],
    P ! {finish, Ctl},
    PLog = receive {p_log, PL} -> PL end,
    Buddy ! {finish, Ctl},
    BLog = receive {buddy_log, BL} -> BL end,
    Obs ! {dump, Ctl},
    Logs = receive {obs_log, OL} -> OL end,
    exit(Obs, kill),
    Parts = [{"ctl", Log},
             {"srv", maps:get(srv, Logs, [])},
             {"dup", maps:get(dup, Logs, [])},
             {"down", maps:get(down, Logs, [])},
             {"p", PLog},
             {"buddy", BLog}] ++ ClientLogs,
    lists:flatten([io_lib:format("~p", [Id]),
                   [[" ; ", Who, ": ", lists:join(", ", Entries)] || {Who, Entries} <- Parts]]).

sync(S) ->
    case catch gen_server:call(S, sync, ?LONG) of
        ok -> "alive";
        _ -> "dead"
    end.

step({call, C, Req, Timeout, Via}, Env = #{clients := Clients}) ->
    Client = maps:get(C, Clients),
    Client ! {call, self(), target(Via, Env), Req, timeout(Timeout)},
    case {Req, Timeout} of
        {defer, long} ->
            % Pending until a flush or the server's end: wait until the
            % server holds it (or the call failed at once).
            receive {deferred, Client} -> "deferred"; {done, C} -> "done" end;
        {defer, short} ->
            receive {done, C} -> ok end,
            receive {deferred, Client} -> "done" after 0 -> "done" end;
        _ -> receive {done, C} -> "done" end
    end;
step({cast, Msg}, Env) ->
    gen_server:cast(maps:get(s, Env), Msg),
    "cast";
step({info, Msg}, Env) ->
    maps:get(s, Env) ! Msg,
    "info";
step({exit_parent, R}, #{s := S, p := P}) ->
    P ! {exit, S, R, self()},
    receive exited -> "exited" end;
step({exit_other, R}, #{s := S}) ->
    exit_other(S, R),
    "exited";
step({stop, R}, #{s := S}) ->
    stop_result(catch gen_server:stop(S, R, ?LONG));
step(dup, #{name := Name, obs := Obs}) ->
    case gen_server:start({local, Name}, ?MODULE, {dup, Obs}, []) of
        {ok, D} -> "dup started " ++ stop_result(catch gen_server:stop(D));
        {error, {already_started, Pid}} ->
            "dup already_started " ++ who(Pid, self());
        {error, R} -> "dup error " ++ reason(R)
    end;
step({batch, Items}, Env = #{s := S, clients := Clients}) ->
    % c0's call holds the server in its callback; meanwhile the items are
    % queued one by one, in this order, from several processes; then it is
    % let go.
    maps:get(c0, Clients) ! {call, self(), S, wait, ?LONG},
    Held = receive waiting -> true; {done, c0} -> false end,
    {Rs, _, Callers} =
        lists:foldl(fun(Item, {Acc, Q, Cs}) ->
                            {R, Q1, Cs1} = batch_item(Item, Env, Held, Q, Cs),
                            {[R | Acc], Q1, Cs1}
                    end, {[], 0, []}, Items),
    Held andalso (S ! release),
    [receive {done, C} -> ok end || C <- [c0 || Held] ++ lists:reverse(Callers)],
    lists:join(" ", ["batch" | lists:reverse(Rs)]).

batch_item({cast, Msg}, #{s := S}, Held, Q, Cs) ->
    gen_server:cast(S, Msg),
    {"cast", queued(S, Held, Q + 1), Cs};
batch_item({info, Msg}, #{s := S}, Held, Q, Cs) ->
    S ! Msg,
    {"info", queued(S, Held, Q + 1), Cs};
batch_item({call, C, Req, Via}, Env = #{s := S, clients := Clients}, Held, Q, Cs) ->
    maps:get(C, Clients) ! {call, self(), target(Via, Env), Req, ?LONG},
    case Held of
        true -> {"call", queued(S, Held, Q + 1), [C | Cs]};
        false -> receive {done, C} -> {"call", Q, Cs} end
    end;
batch_item({stop, R}, #{s := S}, Held, Q, Cs) ->
    % Held: times out, and the stop stays queued.
    Result = stop_result(catch gen_server:stop(S, R, ?SHORT)),
    {Result, queued(S, Held, Q + 1), Cs};
batch_item({exit_other, R}, #{s := S, trap := Trap}, Held, Q, Cs) ->
    exit_other(S, R),
    Q1 = case {Held, Trap, R} of
             {false, _, _} -> Q;
             {true, _, kill} -> await_dead(S), Q;
             {true, true, _} -> queued(S, Held, Q + 1);
             {true, false, normal} -> Q;
             {true, false, _} -> await_dead(S), Q
         end,
    {"exited", Q1, Cs}.

%% Waits until the held server's queue holds Q messages (or it is gone):
%% what a Mote client's `sent` says at once.
queued(_, false, Q) -> Q;
queued(S, true, Q) ->
    case erlang:process_info(S, message_queue_len) of
        {message_queue_len, N} when N >= Q -> Q;
        undefined -> Q;
        _ -> erlang:yield(), queued(S, true, Q)
    end.

await_dead(S) ->
    case is_process_alive(S) of
        true -> erlang:yield(), await_dead(S);
        false -> ok
    end.

exit_other(S, R) ->
    Self = self(),
    Ref = make_ref(),
    spawn(fun() -> exit(S, R), Self ! Ref end),
    receive Ref -> ok end.

target(name, #{name := Name}) when Name =/= undefined -> Name;
target(_, #{s := S}) -> S.

timeout(short) -> ?SHORT;
timeout(long) -> ?LONG.

stop_result(ok) -> "ok";
stop_result(Other) -> err(Other).

%% What a call or stop came to, in the test's words.
err({'EXIT', {R, {M, F, A}}}) when is_atom(M), is_atom(F), is_list(A) -> "error " ++ reason(R);
err({'EXIT', R}) -> "error " ++ reason(R);
err(V) -> "reply " ++ reason(V).

reason(A) when is_atom(A) -> atom_to_list(A);
reason(I) when is_integer(I) -> integer_to_list(I);
reason({R, [Frame | _]}) when is_tuple(Frame) -> "crash:" ++ reason(R);
reason({already_started, _}) -> "{already_started,srv}";
reason(T) when is_tuple(T) ->
    "{" ++ lists:join(",", [reason(E) || E <- tuple_to_list(T)]) ++ "}";
reason(L) when is_list(L) -> L;
reason(Other) -> lists:flatten(io_lib:format("~p", [Other])).

who(Pid, _) when is_pid(Pid) -> "srv".

req({stop, R}) -> "stop " ++ reason(R);
req({stopnr, R}) -> "stopnr " ++ reason(R);
req(A) -> atom_to_list(A).

%% --- the server ---

init({dup, Obs}) ->
    Obs ! {log, dup, "init"},
    {ok, dup};
init({srv, Ctl, Obs, P, Trap, Init, TermCrash}) ->
    process_flag(trap_exit, Trap),
    Obs ! {log, srv, "init"},
    case Init of
        ok -> {ok, #{n => 0, ctl => Ctl, obs => Obs, p => P, tc => TermCrash, deferred => []}};
        {stop, R} -> {stop, R};
        crash -> error(boom)
    end.

log(#{obs := Obs}, Fmt, Args) ->
    Obs ! {log, srv, lists:flatten(io_lib:format(Fmt, Args))}.

handle_call(_, _, dup) -> {reply, dup, dup};
handle_call(sync, _, S) -> {reply, ok, S};
handle_call(Req, From, S = #{n := N, ctl := Ctl}) ->
    log(S, "call ~s st=~p", [req(Req), N]),
    S1 = S#{n := N + 1},
    case Req of
        get -> {reply, N, S1};
        defer ->
            Ctl ! {deferred, element(1, From)},
            {noreply, S1#{deferred := maps:get(deferred, S1) ++ [From]}};
        {stop, R} -> {stop, R, stopping, S1};
        {stopnr, R} -> {stop, R, S1};
        crash -> error(boom);
        self -> {reply, err(catch gen_server:call(self(), get, ?SELF)), S1};
        selfstop -> {reply, stop_result(catch gen_server:stop(self(), normal, ?SELF)), S1};
        wait ->
            Ctl ! waiting,
            receive release -> ok end,
            {reply, released, S1}
    end.

handle_cast(_, dup) -> {noreply, dup};
handle_cast(Msg, S = #{n := N}) ->
    log(S, "cast ~s st=~p", [msg(Msg, S), N]),
    handle(Msg, S#{n := N + 1}).

handle_info(_, dup) -> {noreply, dup};
handle_info(Msg, S = #{n := N}) ->
    log(S, "info ~s st=~p", [msg(Msg, S), N]),
    handle(Msg, S#{n := N + 1}).

msg({stop, R}, _) -> "stop " ++ reason(R);
msg({'EXIT', From, R}, #{p := P}) ->
    Who = case From of P -> "p"; _ -> "other" end,
    "exit " ++ Who ++ " " ++ reason(R);
msg(A, _) when is_atom(A) -> atom_to_list(A);
msg(Other, _) -> reason(Other).

handle(flush, S = #{deferred := D}) ->
    [gen_server:reply(F, flushed) || F <- D],
    {noreply, S#{deferred := []}};
handle({stop, R}, S) -> {stop, R, S};
handle(crash, _) -> error(boom);
handle(_, S) -> {noreply, S}.

terminate(_, dup) -> ok;
terminate(R, S = #{n := N, tc := TermCrash}) ->
    log(S, "terminate ~s st=~p", [reason(R), N]),
    TermCrash andalso error(tboom),
    ok.

%% --- the other processes ---

%% Starts the server (linked or not) and sends it exit signals; logs the
%% exit signals it traps.
parent(Log) ->
    receive
        {start, Ctl, Link, Name, Args} ->
            Start = case Link of true -> start_link; false -> start end,
            Result = case Name of
                         undefined -> gen_server:Start(?MODULE, Args, []);
                         _ -> gen_server:Start({local, Name}, ?MODULE, Args, [])
                     end,
            case {Link, Result} of
                % Mote's servers unlink from their starter when init fails
                % (mapped): this EXIT is not logged.
                {true, {error, _}} -> receive {'EXIT', _, _} -> ok end;
                _ -> ok
            end,
            Ctl ! {started, Result},
            parent(Log);
        {exit, S, R, Ctl} ->
            exit(S, R),
            Ctl ! exited,
            parent(Log);
        {'EXIT', _, R} -> parent(["exit " ++ reason(R) | Log]);
        {finish, Ctl} -> Ctl ! {p_log, lists:reverse(Log) ++ leftovers()}
    end.

buddy(Log) ->
    receive
        {link, S, Ctl} -> link(S), Ctl ! linked, buddy(Log);
        {'EXIT', _, R} -> buddy(["exit " ++ reason(R) | Log]);
        {finish, Ctl} -> Ctl ! {buddy_log, lists:reverse(Log) ++ leftovers()}
    end.

client(Name, Log) ->
    receive
        {call, Ctl, Target, Req, Timeout} ->
            R = err(catch gen_server:call(Target, Req, Timeout)),
            Ctl ! {done, Name},
            client(Name, [req(Req) ++ " " ++ R | Log]);
        {finish, Ctl} ->
            Ctl ! {client_log, Name, lists:reverse(Log) ++ leftovers()}
    end.

%% What is left in the mailbox: a late reply must never be.
leftovers() ->
    receive M -> ["leftover " ++ lists:flatten(io_lib:format("~p", [M])) | leftovers()]
    after 0 -> []
    end.

observer(Logs) ->
    receive
        {log, Who, Entry} -> observer(maps:update_with(Who, fun(L) -> [Entry | L] end, [Entry], Logs));
        {watch, S, Ctl} ->
            erlang:monitor(process, S),
            Ctl ! watching,
            observer(Logs);
        {'DOWN', _, process, _, R} ->
            observer(maps:update_with(down, fun(L) -> ["down " ++ reason(R) | L] end,
                                      ["down " ++ reason(R)], Logs));
        {dump, Ctl} -> Ctl ! {obs_log, maps:map(fun(_, L) -> lists:reverse(L) end, Logs)}
    end.
