using System.CommandLine;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Compilation;
using FairNad.Lineage;

namespace FairNad.Cli;

/// <summary>
/// Entry point of `fairnad`. Exit codes: 0 success, 1 the check failed (invalid spec, mismatch), 2 bad usage or input
/// (the message names the file, field or option), 70 an internal error (a bug: one line, and the stack trace only with
/// FAIRNAD_DEBUG=1); `fairnad search` adds 75 (stopped by a failure of the machine; resumable) and 130 (interrupted).
/// </summary>
public static class Program
{
    /// <summary>The exit code of an unexpected exception (EX_SOFTWARE).</summary>
    public const int InternalError = 70;

    public static int Main(string[] args)
    {
        // A worker started by a runner dies with it (a no-op for everything else).
        FairNad.Evaluation.Isolation.WorkerLifetime.BindToParent();
        return Run(args, Console.Out, Console.Error);
    }

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            var root = BuildCommands(output, error);
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0)
            {
                foreach (var e in parsed.Errors)
                {
                    error.WriteLine($"fairnad: {e.Message}");
                }

                error.WriteLine("Run 'fairnad --help' for usage.");
                return 2;
            }

            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is UsageException or SpecFormatException or InvalidArchitectureException or CompilationFailedException or IOException or UnauthorizedAccessException or FormatException or LineageException or WidthScalingException or FairNad.Data.DataFormatException or FairNad.Data.DataUnavailableException or FairNad.Knowledge.KnowledgeFormatException or FairNad.Llm.LlmDisabledException or FairNad.Llm.LlmReplayMissException or FairNad.Llm.LlmUnavailableException or FairNad.Llm.LlmOutputException or FairNad.Llm.LlmModelChangedException or FairNad.Experiments.ExperimentException or FairNad.Evaluation.DeviceUnavailableException or ArgumentException)
        {
            error.WriteLine($"fairnad: {e.Message}");
            return e is InvalidArchitectureException or CompilationFailedException ? 1 : 2;
        }
        catch (Exception e)
        {
            // Last resort: bad input must be caught above with a message of its own; anything else is a bug.
            return ReportInternalError(e, error);
        }
    }

    /// <summary>One line naming the exception, then a hint, or the stack trace when FAIRNAD_DEBUG=1; returns <see cref="InternalError"/>.</summary>
    internal static int ReportInternalError(Exception e, TextWriter error)
    {
        error.WriteLine($"fairnad: internal error: {e.GetType().FullName}: {e.Message.ReplaceLineEndings(" ")}");
        error.WriteLine(Environment.GetEnvironmentVariable("FAIRNAD_DEBUG") == "1"
            ? e.ToString()
            : "fairnad: this is a bug; set FAIRNAD_DEBUG=1 to see the stack trace, and report it with the command line");
        return InternalError;
    }

    private static RootCommand BuildCommands(TextWriter output, TextWriter error)
    {
        var architecture = new Argument<string>("architecture")
        {
            Description = "A spec file (architecture.json), a NAS-Bench-201 cell string (|nor_conv_3x3~0|+|...|) or a reference architecture name.",
        };
        var dataset = new Option<string>("--dataset")
        {
            Description = "Dataset whose input shape NB201 strings and reference architectures use: " + string.Join(", ", ArchitectureSource.Datasets) + ".",
            DefaultValueFactory = _ => "cifar10",
        };
        var json = new Option<bool>("--json") { Description = "Machine-readable JSON output." };

        ArchitectureSpec Spec(ParseResult r) => ArchitectureSource.Resolve(r.GetValue(architecture)!, r.GetValue(dataset)!);

        var canonical = new Option<bool>("--canonical") { Description = "Print the canonical form that the id hashes." };
        var show = new Command("show", "Print the spec as JSON.") { architecture, dataset, canonical };
        show.SetAction(r => ArchCommands.Show(Spec(r), r.GetValue(canonical), output));

        var hash = new Command("hash", "Print the candidate id: SHA-256 of the canonical spec.") { architecture, dataset };
        hash.SetAction(r => ArchCommands.Hash(Spec(r), output));

        var validate = new Command("validate", "Check the spec; exit 1 and list every broken rule when it is invalid.") { architecture, dataset, json };
        validate.SetAction(r => ArchCommands.Validate(Spec(r), r.GetValue(json), output));

        var analyze = new Command("analyze", "Shapes of every node, parameters, multiply-accumulates and peak activation memory, without building a model.") { architecture, dataset, json };
        analyze.SetAction(r => ArchCommands.Analyze(Spec(r), r.GetValue(json), output));

        var outPath = new Option<string?>("--out") { Description = "Write the code to this file instead of standard output." };
        var codegen = new Command("codegen", "Print the candidate as TorchSharp C# (deterministic: same spec, same bytes).") { architecture, dataset, outPath };
        codegen.SetAction(r =>
        {
            if (r.GetValue(outPath) is { } file)
            {
                InputChecks.NotADirectory(file, "--out", "a file to write the code to");
            }

            return ArchCommands.Codegen(Spec(r), r.GetValue(architecture)!, r.GetValue(outPath), output);
        });

        var generated = new Option<bool>("--generated") { Description = "Also compile the generated code with Roslyn and check that both paths agree." };
        var seed = new Option<long>("--seed") { Description = "Seed of the weight initialisation and the random input.", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch") { Description = "Batch size of the forward pass.", DefaultValueFactory = _ => 2 };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads of libtorch.", DefaultValueFactory = _ => 1 };
        var build = new Command("build", "Build the TorchSharp model, compare its parameter count with the analysis and run a forward pass.") { architecture, dataset, generated, seed, batch, threads };
        build.SetAction(r => ArchCommands.Build(Spec(r), r.GetValue(architecture)!, r.GetValue(generated), r.GetValue(seed), r.GetValue(batch), r.GetValue(threads), output));

        var budget = new Option<long>("--params") { Description = "Parameter budget, e.g. 1500000.", Required = true };
        budget.Validators.Add(r => AtLeastOne(r, r.GetValueOrDefault<long>()));
        var divisor = new Option<int?>("--divisor") { Description = "Round widths to a multiple of this (default: the smallest that keeps grouped and multi-head operators valid)." };
        divisor.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is { } value && (value < 1 || value > WidthScaler.MaxDivisor))
            {
                r.AddError(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"--divisor must lie in [1, {WidthScaler.MaxDivisor}], not {value}"));
            }
        });
        var scale = new Command("scale", "Scale all widths to the largest size within a parameter budget; prints the scaled spec.") { architecture, dataset, budget, divisor };
        scale.SetAction(r => ArchCommands.Scale(Spec(r), r.GetValue(architecture)!, r.GetValue(budget), r.GetValue(divisor), output, error));

        var references = new Command("references", "List the reference architectures with their size and id.") { dataset };
        references.SetAction(r => ArchCommands.References(r.GetValue(dataset)!, output));

        var arch = new Command("arch", "Inspect an architecture.") { show, hash, validate, analyze, codegen, build, scale, references };

        var table = new Argument<string>("table") { Description = "A NAS-Bench-201 CSV with an 'arch str' column, e.g. ../shared/data/nb201/nb201_cifar10-valid.csv." };
        var limit = new Option<int>("--limit") { Description = "Use this many evenly spaced cells (0 = all).", DefaultValueFactory = _ => 0 };
        var compileSample = new Option<int>("--compile") { Description = "Also time the generated-code path on this many evenly spaced cells.", DefaultValueFactory = _ => 20 };
        var models = new Command("models", "Time parse + analysis + build + one forward pass over every cell of a NAS-Bench-201 table.") { table, limit, compileSample, threads, dataset };
        models.SetAction(r => BenchCommands.Models(r.GetValue(table)!, r.GetValue(limit), r.GetValue(compileSample), r.GetValue(threads), r.GetValue(dataset)!, output, error));
        var lineageCommand = LineageCommand(output, error);
        var count = new Option<int>("--count") { Description = "How many candidates to write.", DefaultValueFactory = _ => 1000 };
        var segment = new Option<int>("--segment") { Description = "Report the cost per candidate every this many candidates.", DefaultValueFactory = _ => 100 };
        var benchRepository = new Option<string?>("--repo") { Description = "Write into this repository (created bare if missing) instead of a temporary one that is deleted afterwards." };
        var lineageBench = new Command("lineage", "Time writing candidates (spec + code + note) into a lineage repository as branches accumulate.") { count, segment, benchRepository };
        lineageBench.SetAction(r =>
        {
            if (r.GetValue(count) < 1 || r.GetValue(segment) < 1)
            {
                throw new UsageException("--count and --segment must be at least 1");
            }

            if (r.GetValue(benchRepository) is { } path)
            {
                InputChecks.NotAFile(path, "--repo", "a repository folder (created bare if missing)");
            }

            return LineageCommands.Bench(r.GetValue(count), r.GetValue(segment), r.GetValue(benchRepository), output, error);
        });
        var nb201Directory = new Option<string>("--nb201-dir") { Description = "Folder with nb201_cifar10-valid.csv, nb201_cifar100.csv, nb201_ImageNet16-120.csv.", DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "nb201") };
        var sample = new Option<int>("--sample") { Description = "Cells per table (a seeded sample).", DefaultValueFactory = _ => 1000 };
        var sampleSeed = new Option<int>("--seed") { Description = "Seed of the sample and of the weights.", DefaultValueFactory = _ => 0 };
        var proxiesAll = new Option<bool>("--all") { Description = "Score every cell of each table (15,625) instead of a sample; the published figures are for all cells." };
        var proxiesDatasets = new Option<string[]>("--dataset") { Description = "Only these tables: cifar10 (the cifar10-valid table), cifar100, imagenet16-120 (default all three).", AllowMultipleArgumentsPerToken = true };
        var proxiesScores = new Option<string?>("--scores") { Description = "Append each cell's score to this CSV; cells already in it are read back, not recomputed." };
        var proxies = new Command("proxies", "Spearman rho of synflow against NAS-Bench-201 test accuracy on a seeded sample of cells or on all cells.") { nb201Directory, sample, sampleSeed, proxiesAll, proxiesDatasets, proxiesScores };
        proxies.SetAction(r =>
        {
            InputChecks.RequireDirectory(r.GetValue(nb201Directory)!, "--nb201-dir", "the folder of NAS-Bench-201 tables");
            if (r.GetValue(sample) < 1)
            {
                throw new UsageException("--sample must be at least 1");
            }

            if (r.GetValue(proxiesScores) is { } scoresPath && Directory.Exists(scoresPath))
            {
                throw new UsageException($"--scores: {scoresPath} is a folder; expected a CSV file (appended to, created if missing)");
            }

            return BenchCommands.Proxies(r.GetValue(nb201Directory)!, r.GetValue(proxiesAll) ? null : r.GetValue(sample), r.GetValue(sampleSeed),
                r.GetValue(proxiesDatasets) ?? [], r.GetValue(proxiesScores), output, error);
        });
        var candidates = new Option<string[]>("--candidates") { Description = "Reference architectures to time.", DefaultValueFactory = _ => ["resnet", "mobilenetv2"], AllowMultipleArgumentsPerToken = true };
        var overheadParams = new Option<long>("--params") { Description = "Width-scale each to this many parameters.", DefaultValueFactory = _ => 100_000 };
        overheadParams.Validators.Add(r => AtLeastOne(r, r.GetValueOrDefault<long>()));
        var overheadEpochs = new Option<int?>("--epochs") { Description = "Epochs of the overhead comparison (default the quick fidelity's 3); the fixed cost is measured at 1 epoch on 100 images." };
        overheadEpochs.Validators.Add(r => AtLeastOne(r, r.GetValueOrDefault<int?>() ?? 1));
        var overheadExecutor = new Option<string>("--executor")
        {
            Description = "local: cold and warm local workers against the bare loop; slurm: a Slurm job against a cold local worker, the same job side by side (the executor's cost per candidate).",
            DefaultValueFactory = _ => "local",
        };
        overheadExecutor.AcceptOnlyFromAmong("local", "slurm");
        var overheadPartition = new Option<string?>("--slurm-partition") { Description = "Slurm partition of the jobs (default the cluster's default partition)." };
        var overheadJobDirectory = new Option<string?>("--slurm-job-dir") { Description = "Shared directory for the jobs' files (default a temporary folder: fine on a one-node cluster)." };
        var overheadPoll = new Option<double?>("--slurm-poll") { Description = $"Seconds between looks at the queue (default {FairNad.Experiments.ExecutorOptions.DefaultPollSeconds:G}, as in a search)." };
        var overheadRounds = new Option<int>("--rounds") { Description = "Rounds of the Slurm comparison (each candidate once per round).", DefaultValueFactory = _ => 3 };
        overheadRounds.Validators.Add(r => AtLeastOne(r, r.GetValueOrDefault<int>()));
        var overhead = new Command("overhead", "Fixed cost per candidate and harness overhead against the bare training loop, for fresh (cold) and warm worker processes side by side, at the quick fidelity; with --executor slurm, a Slurm job's cost per candidate against a cold local worker.")
        {
            candidates, overheadParams, overheadEpochs, overheadExecutor, overheadPartition, overheadJobDirectory, overheadPoll, overheadRounds,
        };
        overhead.SetAction(r =>
        {
            var specs = r.GetValue(candidates)!.Select(c => Scaling.ToBudget(ArchitectureSource.Resolve(c, "fashion-mnist"), c, r.GetValue(overheadParams)).Spec).ToList();
            var config = FairNad.Evaluation.Training.TrainingConfig.Quick with { Epochs = r.GetValue(overheadEpochs) ?? FairNad.Evaluation.Training.TrainingConfig.Quick.Epochs };
            return r.GetValue(overheadExecutor) == "slurm"
                ? BenchCommands.SlurmOverhead(specs, config, new FairNad.Experiments.ExecutorOptions(FairNad.Experiments.ExecutorOptions.Slurm, Partition: r.GetValue(overheadPartition),
                    JobDirectory: r.GetValue(overheadJobDirectory) is { } d ? Path.GetFullPath(d) : null, PollSeconds: r.GetValue(overheadPoll)), r.GetValue(overheadRounds), output, error)
                : BenchCommands.Overhead(specs, config, output, error);
        });
        var ladderExperiment = new Option<string>("--experiment") { Description = "The experiment both arms search (LLM off, in process, one job).", DefaultValueFactory = _ => Path.Combine("experiments", "quickstart.json") };
        var ladderProfile = new Option<string?>("--profile") { Description = "A profile of the experiment file to apply first." };
        var ladderRungs = new Option<string[]>("--rungs") { Description = "Rungs as <epochs>:<training images> (or <epochs>:all), lowest first; the top rung is what the other arm trains every candidate at.", DefaultValueFactory = _ => ["1:2000", "3:8000"], AllowMultipleArgumentsPerToken = true };
        var ladderPromote = new Option<double>("--promote") { Description = "The top fraction of each rung promoted.", DefaultValueFactory = _ => 0.34 };
        var ladderCandidates = new Option<int?>("--candidates") { Description = "Candidates per arm (default the experiment's budget)." };
        ladderCandidates.Validators.Add(r => AtLeastOne(r, r.GetValueOrDefault<int?>() ?? 1));
        var ladderData = new Option<string?>("--data-dir") { Description = "Dataset folder (default: none, so Fashion-MNIST is the embedded subset a fresh clone has)." };
        var ladderEqualCpu = new Option<bool>("--equal-cpu") { Description = "Also run the ladder with as many candidates as the top-rung arm's CPU time pays for (false: two arms only).", DefaultValueFactory = _ => true };
        var ladderBench = new Command("ladder", "Accuracy per CPU-minute with and without a fidelity ladder: the same search with every candidate at the top rung, then with the ladder, side by side in one process.")
        {
            ladderExperiment, ladderProfile, ladderRungs, ladderPromote, ladderCandidates, ladderData, ladderEqualCpu,
        };
        ladderBench.SetAction(r => BenchCommands.Ladder(r.GetValue(ladderExperiment)!, r.GetValue(ladderProfile), r.GetValue(ladderRungs)!, r.GetValue(ladderPromote),
            r.GetValue(ladderCandidates), r.GetValue(ladderData), r.GetValue(ladderEqualCpu), output, error));
        var nb201Seeds = new Option<int>("--seeds") { Description = "Seeds per strategy (0..N-1).", DefaultValueFactory = _ => 100 };
        var nb201Budgets = new Option<int[]>("--budgets") { Description = "Query budgets to report.", DefaultValueFactory = _ => [25, 50, 100, 200, 400], AllowMultipleArgumentsPerToken = true };
        var nb201Strategies = new Option<string[]>("--strategies") { Description = "Strategies: " + string.Join(", ", FairNad.Search.Nb201Benchmark.AllStrategies) + ".", DefaultValueFactory = _ => [.. FairNad.Search.Nb201Benchmark.AllStrategies], AllowMultipleArgumentsPerToken = true };
        var nb201Datasets = new Option<string[]>("--datasets") { Description = "Tables: " + string.Join(", ", FairNad.Search.Nb201Tables.Datasets) + ".", DefaultValueFactory = _ => [.. FairNad.Search.Nb201Tables.Datasets], AllowMultipleArgumentsPerToken = true };
        var nb201Out = new Option<string?>("--out") { Description = "Also write benchmark.md and anytime.csv into this folder (e.g. results/nb201)." };
        var nb201Tables = new Option<string[]>("--table")
        {
            Description = "Instead of the shipped tables: CSV tables of the NAS-Bench-201 cell space (NATS-Bench topology, HW-NAS-Bench, ...); the cell column is recognised by its values; the dataset name is the file name without its extension.",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [],
        };
        var nb201Query = new Option<string>("--query-column") { Description = "With --table: the column the strategies see (e.g. 'validation accuracy').", DefaultValueFactory = _ => FairNad.Search.Nb201BenchmarkSettings.DefaultQueryColumn };
        var nb201Report = new Option<string>("--report-column") { Description = "With --table: the column reported for the best cell by the query column (e.g. 'test accuracy').", DefaultValueFactory = _ => FairNad.Search.Nb201BenchmarkSettings.DefaultReportColumn };
        var nb201Input = new Option<string?>("--input") { Description = "With --table: the input the parameter-count cost assumes: cifar10 (3x32x32, 10 classes), cifar100 or imagenet16-120 (default: named by the file name, else cifar10)." };
        nb201Input.AcceptOnlyFromAmong("cifar10", "cifar100", "imagenet16-120");
        var nb201Rules = new Option<int>("--rules") { Description = "FairNAD's search rules version (1: uniform front member, inapplicability as failure, declared effects; 2: the current rules; 3: rules 2 with the mutation type drawn by its measured success rate; 4: rules 2 with fair-idea tournaments drawing from a pool that Pareto-aware children join only above its median).", DefaultValueFactory = _ => FairNad.Search.FairNadOptions.CurrentRules };
        var nb201 = new Command("nb201", "Search strategies on the shipped NAS-Bench-201 tables (or --table CSVs): mean +- std, regret, Wilcoxon tests against REA and random, FairNAD against each other strategy with Holm's correction, anytime curves.")
        {
            nb201Seeds, nb201Budgets, nb201Strategies, nb201Datasets, nb201Out, nb201Tables, nb201Query, nb201Report, nb201Input, nb201Rules,
        };
        nb201.SetAction(r =>
        {
            var tables = r.GetValue(nb201Tables)!;
            var explicitDatasets = r.GetResult(nb201Datasets) is { Implicit: false };
            var columnsGiven = r.GetResult(nb201Query) is { Implicit: false } || r.GetResult(nb201Report) is { Implicit: false } || r.GetValue(nb201Input) is not null;
            if (tables.Length > 0 && explicitDatasets)
            {
                throw new UsageException("--table and --datasets exclude each other: --table runs on the CSV files named, --datasets on the shipped tables");
            }

            if (tables.Length == 0 && columnsGiven)
            {
                throw new UsageException("--query-column, --report-column and --input apply to --table CSVs; the shipped tables use 'validation accuracy' and 'test accuracy'");
            }

            var settings = new FairNad.Search.Nb201BenchmarkSettings(r.GetValue(nb201Datasets)!, r.GetValue(nb201Strategies)!, r.GetValue(nb201Budgets)!, r.GetValue(nb201Seeds)) { Rules = r.GetValue(nb201Rules) };
            return tables.Length == 0
                ? BenchCommands.Nb201Strategies(settings, r.GetValue(nb201Out), output, error)
                : BenchCommands.Nb201Tables(settings, tables, r.GetValue(nb201Query)!, r.GetValue(nb201Report)!, r.GetValue(nb201Input), r.GetValue(nb201Out), output, error);
        });
        var replicas = new Option<int>("--replicas") { Description = "Separate worker processes that each train every case (orders and native heaps differ).", DefaultValueFactory = _ => 3 };
        var determinismJobs = new Option<int>("--jobs") { Description = "Replicas running at once.", DefaultValueFactory = _ => 2 };
        var load = new Option<int>("--load") { Description = "Busy CPU threads kept running during the benchmark (other load on the machine).", DefaultValueFactory = _ => 0 };
        var cases = new Option<string[]>("--cases") { Description = "Only cases whose name contains one of these (e.g. op: resnet nb201).", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [] };
        var budgets = new Option<long[]>("--budgets") { Description = "Parameter budgets the reference architectures are scaled to.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [20_000, 100_000] };
        var determinismThreads = new Option<int>("--threads") { Description = "libtorch threads per replica (results are bit-exact for a fixed count).", DefaultValueFactory = _ => 1 };
        var determinism = new Command("determinism", "Train every operator, reference architecture and NB201 cell for a few steps in several worker processes and compare loss curves, accuracies and weights bit for bit; exit 1 on any difference.")
        {
            replicas, determinismJobs, load, cases, budgets, determinismThreads,
        };
        determinism.SetAction(r => BenchCommands.Determinism(
            new FairNad.Experiments.DeterminismSettings(r.GetValue(replicas), r.GetValue(determinismJobs), r.GetValue(load), r.GetValue(cases)!, r.GetValue(budgets)!,
                FairNad.Experiments.DeterminismSettings.DefaultConfig with { Threads = r.GetValue(determinismThreads) }),
            output, error));
        var replicaPlan = new Argument<string>("plan") { Description = "The plan file the benchmark wrote." };
        var replicaOut = new Argument<string>("out") { Description = "Where to append one JSON line per case." };
        var determinismReplica = new Command("determinism-replica", "(internal) One replica of `bench determinism`.") { replicaPlan, replicaOut };
        determinismReplica.Hidden = true;
        determinismReplica.SetAction(r =>
        {
            FairNad.Experiments.DeterminismBenchmark.RunReplica(r.GetValue(replicaPlan)!, r.GetValue(replicaOut)!);
            return 0;
        });
        var memoryBudgets = new Option<long[]>("--budgets") { Description = "Parameter budgets of the calibration architectures.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [20_000, 100_000] };
        var memoryBatches = new Option<int[]>("--batches") { Description = "Training batch sizes.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [32, 128] };
        var memory = new Command("memory", "Train calibration candidates in worker processes and compare each worker's measured peak memory with the prediction that memory budgets are decided on; exit 1 if a measurement exceeds its prediction.")
        {
            memoryBudgets, memoryBatches,
        };
        memory.SetAction(r => BenchCommands.Memory(r.GetValue(memoryBudgets)!, r.GetValue(memoryBatches)!, output, error));
        var operatorRepeats = new Option<int>("--repeats") { Description = "In-process compiles per operator source (the median is printed).", DefaultValueFactory = _ => 5 };
        var operatorsBench = new Command("operators", "LLM-written operators over a scripted set of answers (the scripted designer's operators and faulty variants): compile and sandbox-analysis time per operator, verification-worker time, and the share of mutations valid after 0..k repairs.")
        {
            operatorRepeats,
        };
        operatorsBench.SetAction(r => BenchCommands.Operators(r.GetValue(operatorRepeats), output, error));
        var bench = new Command("bench", "Benchmarks that print figures.") { models, lineageBench, proxies, overhead, ladderBench, nb201, determinism, determinismReplica, memory, operatorsBench };

        var worker = new Command("worker", "(internal) A warm evaluation worker: one job (JSON) per line on standard input, one line per finished job on standard output.")
        {
            Hidden = true,
        };
        worker.SetAction(_ => EvaluateCommands.Serve(Console.In, output, error));
        return new RootCommand("FairNad: reproducible LLM-guided neural architecture search.") { arch, DataCommand(output, error), EvaluateCommand(architecture, output, error), worker, OperatorCommands.Command(output), KnowledgeCommand(output), lineageCommand, SearchCommands.Command(output, error), SearchCommands.ReproduceCommand(output, error), SearchCommands.ReportCommand(output), bench };
    }

    /// <summary>A parameter budget below 1 is a usage error naming the option.</summary>
    private static void AtLeastOne(System.CommandLine.Parsing.OptionResult result, long value)
    {
        if (value < 1)
        {
            result.AddError(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{((Option)result.Option).Name} must be at least 1, not {value}"));
        }
    }

    private static Command LineageCommand(TextWriter output, TextWriter error)
    {
        var repository = new Option<string>("--repo") { Description = "The git repository holding the lineage (default: the one around the current directory).", DefaultValueFactory = _ => "." };
        var run = new Option<string?>("--run") { Description = "The run." }.RunName();
        var requiredRun = new Option<string>("--run") { Description = "The run.", Required = true }.RunName();
        var candidate = new Argument<string?>("candidate") { Description = "Candidate id or unique prefix (at least 6 characters).", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<string>("--format") { Description = "markdown or json.", DefaultValueFactory = _ => "markdown" };
        var diff = new Option<bool>("--diff") { Description = "Show the spec diff of each step." };

        var list = new Command("list", "List runs, or the candidates of --run with their metrics.") { repository, run };
        list.SetAction(r => LineageCommands.List(r.GetValue(repository)!, r.GetValue(run), output));

        var verifyResults = new Option<string>("--results") { Description = "Folder of run folders: the run's journal and result documents there are checked against the git record too.", DefaultValueFactory = _ => "results" };
        var verify = new Command("verify", "Check a run: every commit and note as FairNad writes them (identity, message, files, parents), and the journal, result documents and notes against each other; exit 1 on a problem.")
        {
            repository, requiredRun, verifyResults,
        };
        verify.SetAction(r => LineageCommands.Verify(r.GetValue(repository)!, r.GetValue(requiredRun)!, r.GetValue(verifyResults)!, output));

        var to = new Option<string>("--to") { Description = "A repository path (created bare if missing) or a file ending in .bundle.", Required = true };
        var export = new Command("export", "Copy a run's branches and notes to another repository or a git bundle, with the same commit ids.") { repository, requiredRun, to };
        export.SetAction(r => LineageCommands.Export(r.GetValue(repository)!, r.GetValue(requiredRun)!, r.GetValue(to)!, output));

        var from = new Option<string>("--from") { Description = "A repository path or a .bundle file.", Required = true };
        var ifMissing = new Option<bool>("--if-missing") { Description = "Import only when --repo does not hold the run yet; a run already there is left untouched (its newer candidates and notes are never replaced by an older copy)." };
        var import = new Command("import", "Copy a run's branches and notes from another repository or a git bundle into --repo.") { repository, requiredRun, from, ifMissing };
        import.SetAction(r => LineageCommands.Import(r.GetValue(repository)!, r.GetValue(requiredRun)!, r.GetValue(from)!, output, r.GetValue(ifMissing)));

        var lineage = new Command("lineage", "The chain from the seed architecture to a candidate: mutation, attribute, metric change and transcript of each step.")
        {
            candidate, repository, run, format, diff, list, verify, export, import,
        };
        lineage.SetAction(r => r.GetValue(candidate) is { } id
            ? LineageCommands.Show(r.GetValue(repository)!, id, r.GetValue(run), r.GetValue(format)!, r.GetValue(diff), output)
            : throw new UsageException("name a candidate (fairnad lineage <id>) or a subcommand: list, verify, export, import"));
        return lineage;
    }

    private static Command DataCommand(TextWriter output, TextWriter error)
    {
        var datasetName = new Argument<string>("dataset") { Description = "fashion-mnist, cifar10, cifar100 or imagenet16-120." };
        var dataDirectory = new Option<string?>("--data-dir") { Description = "Where datasets live (default: FAIRNAD_DATA, else ~/.cache/fairnad/datasets)." };
        var show = new Command("show", "Load a dataset and print its source, splits and class balance.") { datasetName, dataDirectory };
        show.SetAction(r => DataCommands.Show(r.GetValue(datasetName)!, r.GetValue(dataDirectory), output));
        var download = new Command("download", "Download a dataset into the data directory (checksummed, atomic, resumable).") { datasetName, dataDirectory };
        download.SetAction(r => DataCommands.Download(r.GetValue(datasetName)!, r.GetValue(dataDirectory), output, error));
        var from = new Option<string>("--from") { Description = "Directory with the four official Fashion-MNIST .gz files.", Required = true };
        var outDirectory = new Option<string>("--out") { Description = "Where to write the subset.", Required = true };
        var subset = new Command("make-subset", "Recreate the embedded Fashion-MNIST subset (1,000 train / 200 test images per class) from the full files.") { from, outDirectory };
        subset.SetAction(r =>
        {
            InputChecks.RequireDirectory(r.GetValue(from)!, "--from", "the folder holding the four official Fashion-MNIST .gz files");
            InputChecks.NotAFile(r.GetValue(outDirectory)!, "--out", "a folder to write the subset into");
            return DataCommands.MakeSubset(r.GetValue(from)!, r.GetValue(outDirectory)!, output);
        });
        return new Command("data", "Datasets: show, download, make-subset.") { show, download, subset };
    }

    private static Command EvaluateCommand(Argument<string> _, TextWriter output, TextWriter error)
    {
        var architectures = new Argument<string[]>("architecture")
        {
            Description = "Spec files, NAS-Bench-201 cell strings or reference names; several run as isolated workers.",
            Arity = ArgumentArity.OneOrMore,
        };
        var dataset = new Option<string>("--dataset") { Description = "Dataset to train on: " + string.Join(", ", FairNad.Data.DatasetCatalog.Names) + ".", DefaultValueFactory = _ => "fashion-mnist" };
        var dataDirectory = new Option<string?>("--data-dir") { Description = "Where datasets live (default: FAIRNAD_DATA, else ~/.cache/fairnad/datasets)." };
        var fidelity = new Option<string>("--fidelity") { Description = "quick (3 epochs on 5,000 images) or full (the NB201 recipe, 200 epochs); the options below override it.", DefaultValueFactory = _ => "quick" };
        var epochs = new Option<int?>("--epochs") { Description = "Training epochs." };
        var batchSize = new Option<int?>("--batch-size") { Description = "Training batch size." };
        var learningRate = new Option<double?>("--lr") { Description = "Initial learning rate (cosine-annealed to 0)." };
        var trainSubset = new Option<int?>("--train-subset") { Description = "Train on this many images (class-stratified)." };
        var validationSubset = new Option<int?>("--validation-subset") { Description = "Validate on this many images." };
        var threads = new Option<int?>("--threads") { Description = "libtorch threads (default 1, or cores / jobs for isolated workers)." };
        var seed = new Option<long?>("--seed") { Description = "Seed of initialisation, shuffling and augmentation." };
        var device = new Option<string?>("--device") { Description = "Train on cpu (default), cuda or cuda:<index>." };
        var budget = new Option<long?>("--params") { Description = "Width-scale the architecture to this parameter budget first." };
        budget.Validators.Add(r => AtLeastOne(r, r.GetValueOrDefault<long?>() ?? 1));
        var outPath = new Option<string?>("--out") { Description = "Write the result document (JSON) here, atomically (one candidate, in this process)." };
        var quiet = new Option<bool>("--quiet") { Description = "No per-epoch progress." };
        var isolated = new Option<bool>("--isolated") { Description = "Train in a child worker process with a timeout and a memory cap (implied by several candidates or --jobs)." };
        var jobs = new Option<int>("--jobs") { Description = "Workers running in parallel.", DefaultValueFactory = _ => 1 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds of CPU time (per libtorch thread) a worker's candidate may use; a worker that hangs without using the CPU is stopped at 10 times this of wall-clock time.", DefaultValueFactory = _ => 7200 };
        var memory = new Option<long>("--memory-mb") { Description = "Resident memory cap of a worker, in MiB.", DefaultValueFactory = _ => 8192 };
        var outDirectory = new Option<string>("--out-dir") { Description = "Where isolated workers write <candidate id>.json.", DefaultValueFactory = _ => Path.Combine("artifacts", "evaluations") };
        var checkpoint = new Option<string?>("--checkpoint")
        {
            Description = "One candidate, in this process: save the training's state to this file after every epoch and resume from it when it exists, so a long training (the full-fidelity recipe) survives a kill and ends exactly as an uninterrupted one.",
        };
        var configFile = new Option<string?>("--config") { Description = "A training config document (JSON, as in result documents) to start from instead of --fidelity." };
        var command = new Command("evaluate", "Train and measure candidates: accuracy (validation best/last, test), loss curve, size, latency, throughput.")
        {
            architectures, dataset, dataDirectory, fidelity, configFile, epochs, batchSize, learningRate, trainSubset, validationSubset, threads, seed, device, budget, outPath, quiet,
            isolated, jobs, timeout, memory, outDirectory, checkpoint,
        };
        command.SetAction(r =>
        {
            var name = r.GetValue(dataset)!;
            var specs = r.GetValue(architectures)!.Select(a =>
            {
                var spec = ArchitectureSource.Resolve(a, name);
                return r.GetValue(budget) is { } parameters ? Scaling.ToBudget(spec, a, parameters).Spec : spec;
            }).ToList();
            var workers = Math.Max(1, r.GetValue(jobs));
            var runIsolated = r.GetValue(isolated) || specs.Count > 1 || workers > 1;
            if (r.GetValue(outPath) is { } resultPath)
            {
                InputChecks.NotADirectory(resultPath, "--out", "a file to write the result document to");
            }

            InputChecks.NotAFile(r.GetValue(outDirectory)!, "--out-dir", "a folder for the workers' result documents");
            var config = r.GetValue(configFile) is { } file
                ? FairNad.Evaluation.Training.TrainingConfig.Parse(InputChecks.ReadText(file, "--config", "a training config document (JSON)"), file)
                : r.GetValue(fidelity) switch
            {
                "quick" => FairNad.Evaluation.Training.TrainingConfig.Quick,
                "full" => FairNad.Evaluation.Training.TrainingConfig.Full,
                var other => throw new UsageException($"--fidelity must be quick or full, not '{other}'"),
            };
            config = config with
            {
                Epochs = r.GetValue(epochs) ?? config.Epochs,
                BatchSize = r.GetValue(batchSize) ?? config.BatchSize,
                LearningRate = r.GetValue(learningRate) ?? config.LearningRate,
                TrainSubset = r.GetValue(trainSubset) ?? config.TrainSubset,
                ValidationSubset = r.GetValue(validationSubset) ?? config.ValidationSubset,
                Threads = r.GetValue(threads) ?? (runIsolated ? FairNad.Evaluation.Isolation.WorkerPool.ThreadsPerWorker(workers) : r.GetValue(configFile) is null ? 1 : config.Threads),
                Seed = r.GetValue(seed) ?? config.Seed,
                Device = r.GetValue(device) ?? config.Device,
            };
            if (config.Problem() is { } problem)
            {
                throw new UsageException(problem);
            }

            if (r.GetValue(checkpoint) is { } checkpointPath)
            {
                if (runIsolated)
                {
                    throw new UsageException("--checkpoint trains one candidate in this process: leave out --isolated and --jobs, and name one architecture");
                }

                InputChecks.NotADirectory(checkpointPath, "--checkpoint", "a checkpoint file to write and resume from");
                try
                {
                    FairNad.Evaluation.Training.TrainingCheckpoint.CheckFormat(checkpointPath);
                }
                catch (FairNad.Evaluation.Training.CheckpointException e)
                {
                    throw new UsageException("--checkpoint " + e.Message);
                }
            }

            if (!runIsolated)
            {
                OperatorCommands.LoadBeside(r.GetValue(architectures)![0], specs[0]);
                return EvaluateCommands.InProcess(specs[0], name, r.GetValue(dataDirectory), config, r.GetValue(outPath), r.GetValue(quiet), output, error, r.GetValue(checkpoint));
            }

            var limits = new FairNad.Evaluation.Isolation.WorkerLimits(TimeSpan.FromSeconds(r.GetValue(timeout)), r.GetValue(memory) << 20);
            return EvaluateCommands.Isolated(specs, name, r.GetValue(dataDirectory), config, workers, limits, r.GetValue(outDirectory)!, output, error);
        });
        return command;
    }

    private static Command KnowledgeCommand(TextWriter output)
    {
        var tree = new Option<string?>("--tree") { Description = "An attribute-tree file (default: the curated tree, knowledge/attribute-tree.json)." };
        var references = new Option<string?>("--references") { Description = "Folder of reference descriptions to check attribute references against (default: knowledge/references when present)." };
        FairNad.Knowledge.AttributeTree Load(ParseResult r) => r.GetValue(tree) is { } path
            ? FairNad.Knowledge.AttributeTree.Read(InputChecks.ReadText(path, "--tree", "an attribute-tree file (JSON)"), path)
            : FairNad.Knowledge.AttributeTree.Default();

        var show = new Command("show", "Print the tree: granularity, category, attribute, effect, references and realisations.") { tree };
        show.SetAction(r =>
        {
            output.Write(Load(r).Show());
            return 0;
        });
        var stats = new Command("stats", "Attributes per category and the share realised by the operator library.") { tree };
        stats.SetAction(r =>
        {
            output.Write(Load(r).Stats());
            return 0;
        });
        var validate = new Command("validate", "Check the tree: template categories, unique ids, no empty category, known references and realisations; exit 1 on a problem.") { tree, references };
        validate.SetAction(r =>
        {
            var loaded = Load(r);
            if (r.GetValue(references) is { } given)
            {
                InputChecks.RequireDirectory(given, "--references", "a folder of reference descriptions (*.md)");
            }

            var folder = r.GetValue(references) ?? Path.Combine("knowledge", "references");
            var known = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.md").Select(Path.GetFileNameWithoutExtension).OfType<string>().ToHashSet(StringComparer.Ordinal) : null;
            var problems = loaded.Validate(known);
            foreach (var problem in problems)
            {
                output.WriteLine(problem);
            }

            foreach (var warning in loaded.Warnings())
            {
                output.WriteLine($"warning: {warning}");
            }

            output.WriteLine(problems.Count == 0
                ? $"valid: {loaded.Attributes.Count()} attributes{(known is null ? " (references not checked: no knowledge/references folder here)" : $", references checked against {folder}")}"
                : $"{problems.Count} problem(s)");
            return problems.Count == 0 ? 0 : 1;
        });
        var file = new Argument<string>("file") { Description = "The attribute-tree file to rewrite in canonical form (sorted keys, two-space indent)." };
        var format = new Command("format", "Rewrite an attribute-tree file in canonical form after editing it by hand.") { file };
        format.SetAction(r =>
        {
            var path = r.GetValue(file)!;
            File.WriteAllText(path, FairNad.Knowledge.AttributeTree.Read(InputChecks.ReadText(path, "file", "an attribute-tree file (JSON)"), path).Write());
            output.WriteLine($"formatted {path}");
            return 0;
        });
        var llm = new Option<string>("--llm") { Description = "live, replay, auto, off or ollama:<model> (default model " + FairNad.Llm.LlmSettings.DefaultModel + ").", DefaultValueFactory = _ => "auto" };
        var host = new Option<string?>("--ollama-host") { Description = "Ollama's URL (default: OLLAMA_HOST, else http://localhost:11434)." };
        var referencesIn = new Option<string>("--references")
        {
            Description = "Folder of reference descriptions, one <reference>.md each, in the neutral form (the papers' own terms, not sorted into categories).",
            DefaultValueFactory = _ => Path.Combine("knowledge", "references", "neutral"),
        };
        var outRoot = new Option<string>("--out") { Description = "Where to write <model>/attribute-tree.json, merge-report.md and transcripts/.", DefaultValueFactory = _ => Path.Combine("knowledge", "extracted") };
        var llmTimeout = new Option<double?>("--llm-timeout")
        {
            Description = $"Seconds one LLM request may take before it counts as failed and is retried (default: {FairNad.Llm.LlmSettings.TimeoutVariable}, else {FairNad.Llm.LlmSettings.DefaultTimeoutSeconds:G}).",
        };
        var llmStallTimeout = new Option<double?>("--llm-stall-timeout")
        {
            Description = $"Seconds an LLM answer may go without new data (the first chunk included, so model load and prompt reading) before it counts as stalled and is retried; at most the request timeout (default: {FairNad.Llm.LlmSettings.StallTimeoutVariable}, else {FairNad.Llm.LlmSettings.DefaultStallTimeoutSeconds:G}).",
        };
        var llmModel = new Option<string?>("--llm-model") { Description = "Ollama model for any LLM mode (same as --llm ollama:<model>, but combinable with live, replay and auto); it also names the output folder." };
        var numCtx = new Option<int?>("--llm-num-ctx") { Description = $"Context window in tokens sent as num_ctx (default {FairNad.Llm.LlmSettings.DefaultContextLength})." };
        var allowModelChange = new Option<bool>("--llm-allow-model-change") { Description = "Go on when the server's model (name or digest) differs from the one the transcripts were recorded with." };
        var extract = new Command("extract", "Extract an attribute tree from the reference descriptions with the LLM (recorded; replayable offline).")
        {
            llm, llmModel, host, llmTimeout, llmStallTimeout, numCtx, allowModelChange, referencesIn, outRoot,
        };
        extract.SetAction(r =>
        {
            // A folder the user named is checked before the LLM is asked; the default one only before extraction.
            if (r.GetResult(referencesIn) is { Implicit: false })
            {
                InputChecks.RequireDirectory(r.GetValue(referencesIn)!, "--references", "a folder of reference descriptions (*.md)");
            }

            return KnowledgeCommands.Extract(r.GetValue(llm)!, r.GetValue(host), r.GetValue(llmTimeout), r.GetValue(referencesIn)!, r.GetValue(outRoot)!, output,
                new KnowledgeCommands.ModelChoice(r.GetValue(llmModel), r.GetValue(numCtx), r.GetValue(allowModelChange)), r.GetValue(llmStallTimeout));
        });
        return new Command("knowledge", "The attribute tree of design knowledge.") { show, stats, validate, format, extract };
    }
}
