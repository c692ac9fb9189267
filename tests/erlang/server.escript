#!/usr/bin/env escript
%%! +S 1
%% The Erlang side of tests/erlang_server_test.ts: runs each scenario
%% read from stdin (terms {scenario, Id, Trap, Link, Named, Init,
%% TermCrash, Steps}, written by the test) against OTP's `gen_server`, and prints
%% one line per scenario in the same words as the test's Mote side. The
%% processes are in server_proc.erl, beside this file.
%%
%% One scheduler (+S 1), as in semantics.escript: the observer's log is in
%% causal order only if a dying process's signals are all out before the
%% processes that wait on it run again.
-mode(compile).

main(_) ->
    % A server that crashes: part of a scenario.
    logger:set_primary_config(level, none),
    Src = filename:join(filename:dirname(escript:script_name()), "server_proc.erl"),
    {ok, Mod, Bin} = compile:file(Src, [binary, report]),
    {module, Mod} = code:load_binary(Mod, "server_proc.erl", Bin),
    lists:foreach(fun(S) -> io:format("~s~n", [Mod:run(S)]) end, read_terms([])),
    halt(0).

read_terms(Acc) ->
    case io:read(standard_io, '') of
        {ok, Term} -> read_terms([Term | Acc]);
        eof -> lists:reverse(Acc)
    end.
