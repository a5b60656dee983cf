using System.Globalization;
using System.Text;
using FairNad.Architecture;
using FairNad.Data;
using FairNad.Evaluation;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments;

/// <summary>One calibration point: what was predicted, and what the worker measured with the allocator returning freed memory (live) and as searches run it.</summary>
public sealed record MemoryPoint(string Case, int Batch, long Parameters, MemoryPrediction Predicted, long? Measured, long? MeasuredDefault, string Status)
{
    /// <summary>Live measured / predicted: at most 1 when the prediction is an upper envelope.</summary>
    public double? Ratio => Measured is { } m ? m / (double)Predicted.Total : null;
}

/// <summary>
/// `fairnad bench memory`: trains calibration candidates (every reference architecture at two widths and two batch sizes,
/// and a ViT whose attention runs over all 784 positions of a 28 x 28 image) each in its own worker process, twice, and
/// sets the worker's measured peak resident memory (VmHWM) beside <see cref="MemoryModel"/>'s prediction. Once with
/// glibc's mmap threshold fixed at 1 MiB (<see cref="LiveAllocator"/>), so freed memory goes back to the system and the
/// peak is what the candidate needs: the prediction is meant to be an upper envelope of that (every ratio at most 1).
/// Once as searches run (the threshold fixed at <see cref="TorchRuntime.MmapThreshold"/> unless the user set one): the
/// difference is memory glibc keeps after frees, which the worker's safety cap (twice the budget) must leave room for.
/// </summary>
public static class MemoryBenchmark
{
    /// <summary>glibc setting under which resident memory follows live memory (large blocks are mapped and unmapped, not kept).</summary>
    public static readonly IReadOnlyDictionary<string, string> LiveAllocator = new Dictionary<string, string> { ["MALLOC_MMAP_THRESHOLD_"] = "1048576" };

    public static IReadOnlyList<(string Case, ArchitectureSpec Spec, int Batch)> Cases(IReadOnlyList<long> budgets, IReadOnlyList<int> batches)
    {
        var input = DeterminismBenchmark.Input;
        var cases = new List<(string, ArchitectureSpec, int)>();
        foreach (var name in (string[])["resnet", "mobilenetv2", "convnext", "vit", "mlp_mixer", "shufflenetv2", "resnext"])
        {
            foreach (var budget in budgets)
            {
                var spec = WidthScaler.ScaleToBudget(ReferenceArchitectures.Get(name, input), budget).Spec;
                cases.AddRange(batches.Select(b => (string.Create(CultureInfo.InvariantCulture, $"{name}@{budget / 1000}k"), spec, b)));
            }
        }

        // The quickstart's memory failure: a ViT without its patchify stem attends over every pixel.
        var vit = WidthScaler.ScaleToBudget(ReferenceArchitectures.Get("vit", input), budgets[0]).Spec;
        var pixels = vit with { Name = "vit-pixel-attention", Stem = new StemSpec(StemKind.Conv, vit.Stem.Channels, 3, 1, "relu") };
        cases.AddRange(((int[])[4, 8]).Select(b => ("vit-pixel-attention", pixels, b)));
        return cases;
    }

    public static IReadOnlyList<MemoryPoint> Run(IReadOnlyList<(string Case, ArchitectureSpec Spec, int Batch)> cases, WorkerCommand worker, Action<string> log)
    {
        var splits = DatasetCatalog.Load(DeterminismBenchmark.Dataset, DatasetCatalog.DataDirectory());
        var pixels = splits.Train.Pixels.LongLength + splits.Validation.Pixels.LongLength + splits.Test.Pixels.LongLength;
        var directory = Directory.CreateTempSubdirectory("fairnad-memory-").FullName;
        try
        {
            var points = new List<MemoryPoint>();
            foreach (var (name, spec, batch) in cases)
            {
                var config = new TrainingConfig(Epochs: 1, BatchSize: batch, LearningRate: 0.05, TrainSubset: Math.Max(1000, 4 * batch), ValidationSubset: 500, LatencyRepeats: 3, Threads: 1);
                var prediction = MemoryModel.Predict(spec, config, pixels);
                var job = worker.EvaluateJob(spec, DeterminismBenchmark.Dataset, null, config, Path.Combine(directory, $"{spec.Id}-{batch}.json"));
                var live = WorkerPool.Run(job with { Environment = LiveAllocator }, new WorkerLimits(TimeSpan.FromHours(1), 64L << 30));
                var usual = WorkerPool.Run(job, new WorkerLimits(TimeSpan.FromHours(1), 64L << 30));
                var point = new MemoryPoint(name, batch, ArchitectureAnalyzer.Analyze(spec).Parameters, prediction, live.PeakResidentBytes, usual.PeakResidentBytes,
                    live.Status == "ok" ? "ok" : $"{live.FailureCategory}");
                log(string.Create(CultureInfo.InvariantCulture,
                    $"{name} batch {batch}: predicted {MemoryModel.Format(prediction.Total)}, measured {(point.Measured is { } m ? MemoryModel.Format(m) : "-")} live, {(point.MeasuredDefault is { } d ? MemoryModel.Format(d) : "-")} as searches run"));
                points.Add(point);
            }

            return points;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    public static string Table(IReadOnlyList<MemoryPoint> points)
    {
        static string Mib(long bytes) => (bytes / (double)(1 << 20)).ToString("F0", CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{"case",-22} {"batch",5} {"params",8} {"activ.",7} {"attn.",7} {"infer.",7} {"predicted",9} {"live",6} {"ratio",6} {"as run",7}  status  (MiB)\n");
        foreach (var p in points)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{p.Case,-22} {p.Batch,5} {p.Parameters,8:N0} {Mib(p.Predicted.Activations),7} {Mib(p.Predicted.Attention),7} {Mib(p.Predicted.Inference),7} {Mib(p.Predicted.Total),9} {(p.Measured is { } m ? Mib(m) : "-"),6} {(p.Ratio is { } r ? r.ToString("F2", CultureInfo.InvariantCulture) : "-"),6} {(p.MeasuredDefault is { } d ? Mib(d) : "-"),7}  {p.Status}\n");
        }

        var ratios = points.Where(p => p.Ratio is not null).Select(p => p.Ratio!.Value).ToList();
        if (ratios.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"\nlive / predicted: max {ratios.Max():F2}, mean {ratios.Average():F2}, min {ratios.Min():F2} over {ratios.Count} worker(s); {ratios.Count(r => r > 1)} above 1 (the prediction must not be below the live peak)\n");
            var kept = points.Where(p => p.MeasuredDefault is not null).Select(p => p.MeasuredDefault!.Value / (double)p.Predicted.Total).ToList();
            text.Append(CultureInfo.InvariantCulture,
                $"as run / predicted: max {kept.Max():F2}, mean {kept.Average():F2} (the worker's safety cap is {SearchSession.SafetyCap(1)}x the budget)\n");
        }

        return text.ToString();
    }
}
