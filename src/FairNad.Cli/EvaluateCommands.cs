using System.Globalization;
using FairNad.Architecture;
using FairNad.Data;
using FairNad.Evaluation;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;

namespace FairNad.Cli;

/// <summary>`fairnad evaluate`: train and measure one candidate, here or in an isolated worker process.</summary>
internal static class EvaluateCommands
{
    /// <summary>The crash point (<see cref="CrashPoints"/>) a worker reaches as it starts a job, cold or warm.</summary>
    public const string WorkerJobPoint = "worker-job";

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Trains in this process and writes the result document; exit 0 when trained, 1 when the candidate failed.</summary>
    public static int InProcess(ArchitectureSpec spec, string dataset, string? dataDirectory, TrainingConfig config, string? outPath, bool quiet, TextWriter output, TextWriter log,
        string? checkpoint = null)
    {
        CrashPoints.Reach(WorkerJobPoint);
        var splits = DatasetCatalog.Load(dataset, DatasetCatalog.DataDirectory(dataDirectory));
        if (!quiet)
        {
            log.WriteLine($"data        {splits.Source}");
        }

        using var data = TensorData.Prepare(splits, config);
        if (checkpoint is not null && !quiet)
        {
            log.WriteLine(File.Exists(checkpoint)
                ? $"checkpoint  {checkpoint}: resuming after its last saved epoch"
                : $"checkpoint  {checkpoint}: new; written after every epoch");
        }

        EvaluationResult result;
        try
        {
            result = Trainer.Evaluate(spec, data, config, quiet ? null : e => log.WriteLine(string.Create(Invariant,
                $"epoch {e.Epoch,3}/{config.Epochs}  loss {e.TrainLoss:F4}  val {e.ValidationAccuracy:F2}%  lr {e.LearningRate:F4}  {e.Seconds:F1} s")), checkpoint: checkpoint);
        }
        catch (CheckpointException e)
        {
            throw new UsageException("--checkpoint " + e.Message);
        }

        if (outPath is not null)
        {
            result.WriteAtomically(outPath);
        }

        Print(result, output);
        return result.Status == "ok" ? 0 : 1;
    }

    /// <summary>
    /// `fairnad worker`: a warm worker (<see cref="WarmWorkerPool"/>). Reads one <see cref="WorkerRequest"/> per line until
    /// its input ends, and for each trains exactly as `fairnad evaluate --out` does in a fresh process, writes the result
    /// document atomically and answers one line. libtorch is loaded once and the data prepared once per dataset and
    /// preparation (the config fields that decide the tensors); before each job everything process-wide that training
    /// reads is put back (<see cref="TorchRuntime.ResetForJob"/>: kernel switches, gradient mode, threads, seed), and after
    /// it unreferenced tensors and free heap pages are released. Candidates are built by the interpreter
    /// (<see cref="FairNad.Evaluation.Modules.InterpretedNetwork"/>), so nothing is compiled or loaded per job. An
    /// exception ends the worker with the exit code a cold worker would have, so the parent classifies it the same way.
    /// </summary>
    public static int Serve(TextReader input, TextWriter answers, TextWriter log)
    {
        TorchRuntime.EnsureLoaded();
        (string Key, DatasetSplits Splits)? loaded = null;
        (string Key, TensorData Data)? prepared = null;
        try
        {
            while (input.ReadLine() is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                var request = WorkerRequest.Parse(line);
                CrashPoints.Reach(WorkerJobPoint);
                var config = TrainingConfig.Parse(File.ReadAllText(request.Config), request.Config);
                var spec = ArchitectureSource.Resolve(request.Spec, request.Dataset);
                OperatorCommands.LoadBeside(request.Spec, spec);
                TorchRuntime.ResetForJob(config.Threads, config.Seed);
                MemoryModel.ResetPeakResidentBytes();
                var directory = DatasetCatalog.DataDirectory(request.DataDirectory);
                var dataKey = $"{request.Dataset}\n{directory}";
                if (loaded?.Key != dataKey)
                {
                    prepared?.Data.Dispose();
                    prepared = null;
                    loaded = (dataKey, DatasetCatalog.Load(request.Dataset, directory));
                }

                // Everything TensorData.Prepare reads of the config: the subsets (and the seed that draws them), the
                // resolution, the device, and the threads that its normalisation statistics are reduced with.
                var preparationKey = string.Create(Invariant, $"{config.TrainSubset}|{config.ValidationSubset}|{config.Resolution}|{config.Seed}|{config.Threads}|{config.Device}");
                if (prepared?.Key != preparationKey)
                {
                    prepared?.Data.Dispose();
                    prepared = null;
                    prepared = (preparationKey, TensorData.Prepare(loaded.Value.Splits, config));
                }

                var result = Trainer.Evaluate(spec, prepared.Value.Data, config);
                result.WriteAtomically(request.Out);
                TorchRuntime.ReleaseFreedMemory();
                answers.WriteLine($"{WarmWorkerPool.DoneMarker} {result.CandidateId}");
                answers.Flush();
            }
        }
        finally
        {
            prepared?.Data.Dispose();
        }

        log.Flush();
        return 0;
    }

    public static void Print(EvaluationResult r, TextWriter output)
    {
        output.WriteLine($"candidate   {r.CandidateId}");
        output.WriteLine($"status      {r.Status}{(r.FailureCategory is null ? string.Empty : $" ({r.FailureCategory}): {r.FailureMessage}")}");
        if (r.Status != "ok")
        {
            return;
        }

        output.WriteLine(string.Create(Invariant, $"dataset     {r.Dataset}: {r.DataSource}"));
        output.WriteLine(string.Create(Invariant, $"accuracy    validation best {r.BestValidationAccuracy:F2}% (epoch {r.BestEpoch}), last {r.LastValidationAccuracy:F2}%; test {r.TestAccuracy:F2}%"));
        output.WriteLine(string.Create(Invariant, $"train loss  {string.Join(" ", r.TrainLoss.Select(l => l.ToString("F4", Invariant)))}"));
        output.WriteLine(string.Create(Invariant, $"size        {r.Parameters:N0} parameters, {r.Macs / 1e6:F1} M MACs"));
        output.WriteLine(string.Create(Invariant, $"latency     batch 1: {r.LatencyBatch1Ms:F2} ms, batch 64: {r.LatencyBatch64Ms:F1} ms (median of {r.Config.LatencyRepeats}, {r.Threads} thread(s))"));
        output.WriteLine(string.Create(Invariant, $"training    {r.TrainSeconds:F1} s, {r.ImagesPerSecond:F0} images/s ({r.Config.Epochs} epochs, batch {r.Config.BatchSize}, seed {r.Config.Seed})"));
    }

    /// <summary>Evaluates each spec in a child `fairnad evaluate` process; one candidate's failure never stops the others.</summary>
    public static int Isolated(IReadOnlyList<ArchitectureSpec> specs, string dataset, string? dataDirectory, TrainingConfig config, int workers,
        FairNad.Evaluation.Isolation.WorkerLimits limits, string outDirectory, TextWriter output, TextWriter log)
    {
        Directory.CreateDirectory(outDirectory);
        var worker = Worker;
        var jobs = specs.Select(spec => worker.EvaluateJob(spec, dataset, dataDirectory, config, Path.Combine(outDirectory, $"{spec.Id}.json"))).ToList();
        log.WriteLine($"evaluating {jobs.Count} candidate(s) in {Math.Min(workers, jobs.Count)} worker(s) x {config.Threads} thread(s); results in {outDirectory}");
        var results = FairNad.Evaluation.Isolation.WorkerPool.RunAll(jobs, workers, limits, (i, r) =>
        {
            // A failure found by the parent (timeout, crash) has no document yet; write one so the record is complete.
            if (!File.Exists(jobs[i].ResultPath))
            {
                r.WriteAtomically(jobs[i].ResultPath);
            }

            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {r.CandidateId[..12]}  {r.Status}{(r.Status == "ok" ? $"  val {r.BestValidationAccuracy:F2}%  test {r.TestAccuracy:F2}%  {r.TrainSeconds:F0} s" : $" ({r.FailureCategory}): {r.FailureMessage}")}"));
        });
        foreach (var result in results)
        {
            Print(result, output);
        }

        return results.All(r => r.Status == "ok") ? 0 : 1;
    }

    /// <summary>How to start this program again as a worker.</summary>
    public static FairNad.Experiments.WorkerCommand Worker => FairNad.Experiments.WorkerCommand.ForAssembly(typeof(EvaluateCommands).Assembly.Location);

}
