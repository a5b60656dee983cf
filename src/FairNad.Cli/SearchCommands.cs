using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using FairNad.Experiments;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace FairNad.Cli;

/// <summary>`fairnad search`: run an experiment (or resume a run) with live progress, then print the best architectures.</summary>
internal static class SearchCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Exit code of a run stopped by a failure of the machine, not of a candidate (EX_TEMPFAIL: resume it later).</summary>
    public const int InfrastructureStop = 75;

    /// <summary>Exit code of a run stopped by Ctrl+C (SIGINT), as a shell reports a process ended by that signal.</summary>
    public const int Interrupted = 130;

    /// <summary>Exit code of a run stopped by SIGTERM, as a shell reports a process ended by that signal.</summary>
    public const int Terminated = 143;

    public static Command Command(TextWriter output, TextWriter error)
    {
        var experiment = new Option<string?>("--experiment") { Description = "An experiment file (default: experiments/<dataset>.json, or experiments/quickstart.json without --dataset)." };
        var dataset = new Option<string?>("--dataset") { Description = "Run the shipped experiment for this dataset: fashion-mnist, cifar10, cifar100 or imagenet16-120." };
        var overrides = ExperimentOptions.All.Select(o => o.Accept(new OverrideBinder())).ToList();
        var host = new Option<string?>("--ollama-host") { Description = "Ollama server URL (default: OLLAMA_HOST, else http://localhost:11434)." };
        var allowModelChange = new Option<bool>("--llm-allow-model-change")
        {
            Description = "Go on when the Ollama server's model (name or digest) differs from the one the run's transcripts were recorded with; the manifest records the change.",
        };
        var run = new Option<string?>("--run") { Description = "Name of the new run (default <experiment>-<strategy>-s<seed>)." }.RunName();
        var resume = new Option<string?>("--resume") { Description = "Recorded run to continue after a crash or kill (results/<run>); gives the same result as an uninterrupted run." }.RunName();
        var results = new Option<string>("--results") { Description = "Folder of run folders.", DefaultValueFactory = _ => "results" };
        var repository = new Option<string>("--repo") { Description = "Git repository that receives the lineage branches and notes.", DefaultValueFactory = _ => "." };
        var dataDirectory = new Option<string?>("--data-dir") { Description = "Where datasets live (default: FAIRNAD_DATA, else ~/.cache/fairnad/datasets)." };
        var download = new Option<bool>("--download-data")
        {
            Description = "Download the dataset (checksummed) when the data directory lacks it, before anything else; cifar10 and cifar100 only (imagenet16-120 needs a manual request).",
        };
        var tree = new Option<string?>("--tree") { Description = "Attribute-tree file the search uses, e.g. the one ./build.sh Extract writes to knowledge/extracted/<model>/attribute-tree.json (default: the curated knowledge/attribute-tree.json; a resume takes the run's recorded tree); the manifest records its path and SHA-256." };
        var plain = new Option<bool>("--plain") { Description = "One line per candidate even on a terminal (the default when output is redirected, as in CI)." };
        var command = new Command("search", "Run a search experiment: FairNAD or a baseline, every candidate a lineage commit, resumable.") { experiment, dataset };
        foreach (var (option, _) in overrides)
        {
            command.Options.Add(option);
            if (option.Name == "--llm")
            {
                // --ollama-host is no experiment field, but help has always listed it beside --llm.
                command.Options.Add(host);
                command.Options.Add(allowModelChange);
            }
        }

        foreach (var option in new Option[] { run, resume, results, repository, dataDirectory, download, tree, plain })
        {
            command.Options.Add(option);
        }

        command.SetAction(r =>
        {
            // In table order, so a bad --llm is still reported before any problem with the experiment file.
            var given = overrides.Aggregate(new ExperimentOverrides(), (o, x) => x.Read(r, o));
            var path = r.GetValue(experiment) ?? Path.Combine("experiments", $"{r.GetValue(dataset) ?? "quickstart"}.json");
            if (r.GetValue(resume) is null && Directory.Exists(path))
            {
                throw new UsageException($"{(r.GetValue(experiment) is null ? "experiment" : "--experiment")} {path} is a directory; expected an experiment file (JSON)");
            }

            if (r.GetValue(tree) is { } treePath)
            {
                InputChecks.RequireFile(treePath, "--tree", "an attribute-tree file (JSON)");
            }

            InputChecks.NotAFile(r.GetValue(results)!, "--results", "the folder of run folders");
            if (r.GetValue(dataDirectory) is { } data)
            {
                InputChecks.NotAFile(data, "--data-dir", "the data directory (a folder of datasets)");
            }

            if (r.GetValue(resume) is null && !File.Exists(path))
            {
                throw new UsageException(r.GetValue(experiment) is null
                    ? $"no experiment for dataset '{r.GetValue(dataset)}': {path} does not exist (run from the repository root, or pass --experiment)"
                    : $"{path}: no such experiment file");
            }

            var request = new SearchRequest(path, given, r.GetValue(results)!, r.GetValue(repository)!, r.GetValue(dataDirectory), r.GetValue(run), r.GetValue(resume),
                EvaluateCommands.Worker, r.GetValue(host), r.GetValue(tree), LlmAllowModelChange: r.GetValue(allowModelChange), DownloadData: r.GetValue(download));
            var live = !r.GetValue(plain) && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            return Run(request, live, output, error);
        });
        return command;
    }

    public static Command ReportCommand(TextWriter output)
    {
        var run = new Option<string?>("--run") { Description = "The recorded run (results/<run>)." }.RunName();
        var runs = new Option<string[]>("--runs")
        {
            Description = "Several runs of one experiment (seeds, strategies) to aggregate and compare: mean +- std and paired Wilcoxon tests against rea and random (aggregate.md), "
                + "and the strategy comparison (comparison.md, .tex, CSV, PNG: anytime curves with seed bands, exact paired tests between every two strategies, fronts overlaid, mutation-type, attribute and edit-depth statistics).",
            AllowMultipleArgumentsPerToken = true,
        }.RunName();
        var results = new Option<string>("--results") { Description = "Folder of run folders.", DefaultValueFactory = _ => "results" };
        var outDirectory = new Option<string?>("--out") { Description = "Where to write the report (default results/<run>/report; for --runs, results/aggregate)." };
        var command = new Command("report", "Write a run's report from its recorded data: candidates.csv, front.csv, attributes.csv, report.md, table.tex and PNG plots; or aggregate runs over seeds.")
        {
            run, runs, results, outDirectory,
        };
        command.SetAction(r =>
        {
            if (r.GetValue(outDirectory) is { } reportDirectory)
            {
                InputChecks.NotAFile(reportDirectory, "--out", "a folder to write the report into");
            }

            if (r.GetValue(runs) is { Length: > 0 } several)
            {
                var target = r.GetValue(outDirectory) ?? Path.Combine(r.GetValue(results)!, "aggregate");
                var directories = several.Select(x => Path.Combine(r.GetValue(results)!, x)).ToList();
                foreach (var file in FairNad.Reports.SeedAggregate.Write(directories, target).Concat(FairNad.Reports.StrategyComparison.Write(directories, target)))
                {
                    output.WriteLine($"wrote {file}");
                }

                return 0;
            }

            var directory = Path.Combine(r.GetValue(results)!, r.GetValue(run) ?? throw new UsageException("name a run (--run) or runs to aggregate (--runs)"));
            var report = FairNad.Reports.RunReporter.Write(directory, r.GetValue(outDirectory));
            output.WriteLine($"report of run {report.Run} in {report.Directory}:");
            foreach (var file in report.Files)
            {
                output.WriteLine($"  {Path.GetFileName(file)}");
            }

            return 0;
        });
        return command;
    }

    public static Command ReproduceCommand(TextWriter output, TextWriter error)
    {
        var run = new Option<string>("--run") { Description = "The recorded run (results/<run>).", Required = true }.RunName();
        var results = new Option<string>("--results") { Description = "Folder of run folders.", DefaultValueFactory = _ => "results" };
        var tolerance = new Option<double?>("--tolerance") { Description = "Largest accuracy difference accepted, in points (default 0 for CPU runs, which are bit-exact; 0.5 otherwise)." };
        var dataDirectory = new Option<string?>("--data-dir") { Description = "Where datasets live." };
        var executor = new Option<string?>("--executor") { Description = "Where the re-execution trains: local or slurm (the cluster's default partition); default where the recorded run trained." };
        executor.AcceptOnlyFromAmong(ExperimentOptions.ExecutorKinds);
        var command = new Command("reproduce", "Re-execute a recorded run (same experiment and seed, LLM replayed) and compare candidates, commits and metrics; exit 1 on a difference.")
        {
            run, results, tolerance, dataDirectory, executor,
        };
        command.SetAction(r =>
        {
            var name = r.GetValue(run)!;
            if (r.GetValue(dataDirectory) is { } data)
            {
                InputChecks.NotAFile(data, "--data-dir", "the data directory (a folder of datasets)");
            }

            var report = Reproduction.RunAsync(r.GetValue(results)!, name, EvaluateCommands.Worker, r.GetValue(dataDirectory), r.GetValue(tolerance), log: error.WriteLine, progress: p => error.WriteLine(Line(p)),
                    executor: r.GetValue(executor))
                .GetAwaiter().GetResult();
            foreach (var difference in report.Differences)
            {
                output.WriteLine(difference);
            }

            output.WriteLine(report.Passed
                ? string.Create(Invariant, $"reproduced run {name}: {report.Compared} candidates, identical ids and commits, metrics within {report.Tolerance:G}")
                : $"run {name} did not reproduce: {report.Differences.Count} difference(s)");
            return report.Passed ? 0 : 1;
        });
        return command;
    }

    /// <summary>Makes the typed command-line option of an <see cref="ExperimentOptions"/> entry, and reads its value into overrides.</summary>
    private sealed class OverrideBinder : IExperimentOptionVisitor<(Option Option, Func<ParseResult, ExperimentOverrides, ExperimentOverrides> Read)>
    {
        public (Option Option, Func<ParseResult, ExperimentOverrides, ExperimentOverrides> Read) Visit<T>(ExperimentOption<T> entry)
        {
            var option = new Option<T>(entry.Flag) { Description = entry.Description };
            return (option, (r, o) => entry.Set(o, r.GetValue(option)!));
        }
    }

    private static int Run(SearchRequest request, bool live, TextWriter output, TextWriter error)
    {
        using var cancel = new CancellationTokenSource();
        var stopCode = Interrupted;
        ConsoleCancelEventHandler stop = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += stop;
        // SIGTERM stops the run as Ctrl+C does (everything finished recorded, workers stopped, the lock released) instead
        // of ending the process mid-write: it is what kill, a cluster's time limit and a service manager send, and the only
        // such signal a run started in the background from a script receives (that run inherits SIGINT ignored).
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stopCode = Terminated;
            cancel.Cancel();
        });
        SearchProgress? last = null;
        try
        {
            IReadOnlyList<SearchOutcome> outcomes;
            if (live)
            {
                outcomes = RunLive(request, error, p => last = p, cancel.Token);
            }
            else
            {
                outcomes = SearchSession.RunAsync(request, error.WriteLine, p =>
                {
                    last = p;
                    output.WriteLine(Line(p));
                }, cancel.Token).GetAwaiter().GetResult();
            }

            foreach (var outcome in outcomes)
            {
                PrintOutcome(outcome, output);
            }

            return 0;
        }
        catch (OperationCanceledException)
        {
            var run = last?.Run ?? request.Resume ?? request.RunName ?? "<run>";
            var by = stopCode == Terminated ? "stopped by SIGTERM" : "interrupted";
            error.WriteLine($"fairnad: {by} after {last?.Done ?? 0} candidate(s); everything finished is recorded. Continue with: fairnad search --resume {run}");
            return stopCode;
        }
        catch (InfrastructureFailureException e)
        {
            var run = last?.Run ?? request.Resume ?? request.RunName ?? "<run>";
            error.WriteLine($"fairnad: run {run} stopped after {last?.Done ?? 0} candidate(s): {e.Message}");
            error.WriteLine($"fairnad: everything finished is recorded. Continue with: fairnad search --resume {run}");
            return InfrastructureStop;
        }
        finally
        {
            Console.CancelKeyPress -= stop;
        }
    }

    private static IReadOnlyList<SearchOutcome> RunLive(SearchRequest request, TextWriter error, Action<SearchProgress> keep, CancellationToken cancel)
    {
        var log = new List<string>();
        SearchProgress? current = null;
        IReadOnlyList<SearchOutcome> outcomes = [];
        AnsiConsole.Live(View(null, log)).AutoClear(false).StartAsync(async context =>
        {
            void Refresh() => context.UpdateTarget(View(current, log));
            outcomes = await SearchSession.RunAsync(request, line =>
            {
                log.Add(line);
                Refresh();
            }, p =>
            {
                current = p;
                keep(p);
                Refresh();
            }, cancel).ConfigureAwait(false);
        }).GetAwaiter().GetResult();
        return outcomes;
    }

    private static IRenderable View(SearchProgress? p, IReadOnlyList<string> log)
    {
        var rows = new List<IRenderable>(log.TakeLast(6).Select(l => new Text(l, new Style(Color.Grey))));
        if (p is null)
        {
            rows.Add(new Text("starting..."));
            return new Rows(rows);
        }

        var done = (double)p.Done / Math.Max(1, p.Budget);
        rows.Add(new Markup(Markup.Escape(string.Create(Invariant,
            $"{p.Run}: {p.Done}/{p.Budget} candidates [{new string('#', (int)(done * 30)).PadRight(30, '.')}] elapsed {Duration(p.Elapsed)}, remaining {(p.Remaining is { } r ? Duration(r) : "?")}"))));
        rows.Add(new Markup(Markup.Escape(p.Best is { } b ? string.Create(Invariant, $"best {b.Validation:F2}% validation ({b.Candidate[..12]}, {b.MutationType}, {b.Parameters:N0} parameters)") : "best: none valid yet")));
        rows.Add(new Markup(Markup.Escape("failures: " + (p.Failures.Count == 0 ? "none" : string.Join(", ", p.Failures.Select(f => $"{f.Key} {f.Value}"))))));
        if (p.Llm is { } llm)
        {
            rows.Add(new Markup((llm.Failed > 0 ? "[red]" : "[grey]") + Markup.Escape(string.Create(Invariant,
                $"LLM: {llm.Calls} calls, {llm.Live} live, {llm.Replayed} replayed, {llm.Failed} failed, {llm.PromptTokens + llm.CompletionTokens:N0} tokens, {llm.Seconds:F0} s")) + "[/]"));
        }
        var front = new Table().Title("Pareto front").AddColumns("candidate", "mutation", "attribute", "validation %", "parameters");
        foreach (var c in p.Front)
        {
            front.AddRow(Markup.Escape(c.Candidate[..12]), Markup.Escape(c.MutationType), Markup.Escape(c.Attribute ?? "-"), c.Validation!.Value.ToString("F2", Invariant), c.Parameters?.ToString("N0", Invariant) ?? "-");
        }

        rows.Add(front);
        rows.Add(new Markup(Markup.Escape("latest: " + Line(p))));
        return new Rows(rows);
    }

    /// <summary>One plain line per finished candidate: what it was, how it did, and the state of the run.</summary>
    public static string Line(SearchProgress p)
    {
        var c = p.Latest;
        var result = c.Ok ? string.Create(Invariant, $"val {c.Validation:F2}%") : $"FAILED {c.FailureCategory}";
        var best = p.Best is { } b ? string.Create(Invariant, $"best {b.Validation:F2}% ({b.Candidate[..12]})") : "best -";
        var failures = p.Failures.Count == 0 ? "0" : string.Join(",", p.Failures.Select(f => $"{f.Key} {f.Value}"));
        var llm = p.Llm is { } l ? string.Create(Invariant, $" llm {l.Calls} calls {l.Failed} failed |") : string.Empty;
        return string.Create(Invariant,
            $"[{p.Done,3}/{p.Budget}] {c.Candidate[..12]} {(c.IsNoise ? $"noise{c.NoiseSeed}@r{c.Rung}" : c.Rung > 0 ? $"rung {c.Rung}" : c.MutationType),-9} {c.Attribute ?? "-",-45} {result,-18} {c.Parameters,9:N0} params{(p.Replayed ? " (from journal)" : string.Empty)} | {best} front {p.Front.Count} failures {failures} |{llm} remaining {(p.Remaining is { } r ? Duration(r) : "-")}");
    }

    private static string Duration(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : $"{t.Minutes}m{t.Seconds:00}s";

    private static void PrintOutcome(SearchOutcome outcome, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"run {outcome.Run}: {outcome.Candidates.Count} candidates, {outcome.Candidates.Count(c => !c.Ok)} failed, {outcome.Duplicates} duplicates skipped; stopped: {outcome.StopReason}");
        output.WriteLine("best architectures (validation accuracy):");
        foreach (var c in RunArchive.Ranked(outcome.Candidates).Take(5))
        {
            output.WriteLine(string.Create(Invariant,
                $"  {c.Candidate[..12]}  val {c.Validation:F2}%  test {c.Test:F2}%{(c.Rung > 0 ? $" (rung {c.Rung})" : string.Empty)}  {c.Parameters,9:N0} params  {c.MutationType,-9} {c.Attribute ?? "-"}  commit {c.Commit[..10]}  branch fairnad/{outcome.Run}/{c.Candidate}"));
        }

        foreach (var use in outcome.LlmUse ?? [])
        {
            output.WriteLine($"LLM {use}");
        }

        output.WriteLine($"pareto front: {string.Join(", ", outcome.Front.Select(c => string.Create(Invariant, $"{c.Candidate[..12]} ({c.Validation:F2}%, {c.Parameters:N0})")))}");
        output.WriteLine($"results: {outcome.RunDirectory} ({RunArchive.ManifestFile}, {RunArchive.JournalFile}, {RunArchive.CandidatesFolder}/, {RunArchive.FeedbackFile}, {RunArchive.SummaryFile})");
        var rungs = outcome.AllEvaluations.Select(e => e.Rung).Where(r => r > 0).Distinct().Order().Select(r => $"; rung {r}: refs/notes/fairnad-rung{r}/{outcome.Run}");
        output.WriteLine($"lineage: git branch --list 'fairnad/{outcome.Run}/*'; notes in refs/notes/fairnad/{outcome.Run}{string.Concat(rungs)}");
    }
}
