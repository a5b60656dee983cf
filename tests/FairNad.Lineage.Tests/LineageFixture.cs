using System.Diagnostics;
using FairNad.Architecture;

namespace FairNad.Lineage.Tests;

/// <summary>Temporary repositories and a small family of candidates.</summary>
public sealed class TempRepositories : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("fairnad-lineage-").FullName;

    public string PathFor(string name) => System.IO.Path.Combine(_root, name);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    public static RunManifest Manifest(string run = "demo", long seed = 42) =>
        new(run, seed, "experiments/quickstart.json", "{\"dataset\": \"fashion-mnist\"}\n", "{\"attributes\": []}\n");

    public static ArchitectureSpec Seed() => ReferenceArchitectures.Get("resnet");

    /// <summary>The seed with the block's last activation swapped.</summary>
    public static ArchitectureSpec Child() => WithNode(Seed(), "out", n => n.With("fn", "hardswish"));

    /// <summary>The child with squeeze-and-excitation on the residual branch.</summary>
    public static ArchitectureSpec Grandchild()
    {
        var spec = Child();
        var nodes = spec.Block.Nodes.ToList();
        nodes.Insert(5, new NodeSpec("gate", "se", "b2"));
        nodes = nodes.Select(n => n.Id == "sum" ? n with { Inputs = ["gate", "input"] } : n).ToList();
        return spec with { Block = spec.Block with { Nodes = nodes } };
    }

    public static ArchitectureSpec Other() => ReferenceArchitectures.Get("mobilenetv2");

    public static ArchitectureSpec WithNode(ArchitectureSpec spec, string id, Func<NodeSpec, NodeSpec> change) =>
        spec with { Block = spec.Block with { Nodes = spec.Block.Nodes.Select(n => n.Id == id ? change(n) : n).ToList() } };

    /// <summary>
    /// A run of five candidates: two seeds, a child, a grandchild, and a crossover of the child and the other seed; every
    /// one evaluated (a metrics note each), as a finished run leaves them.
    /// </summary>
    public static IReadOnlyList<StoredCandidate> RecordFamily(LineageStore store, string run = "demo") => RecordFamilyWithJournal(store, run).Family;

    /// <summary><see cref="RecordFamily"/>, with the run's journal as the search wrote it (the entries given to Add, the commits it returned, the metrics).</summary>
    public static (IReadOnlyList<StoredCandidate> Family, IReadOnlyList<RecordedCandidate> Journal) RecordFamilyWithJournal(LineageStore store, string run = "demo")
    {
        store.CreateRun(Manifest(run));
        (CandidateEntry Entry, CandidateMetrics Metrics)[] recorded =
        [
            (new CandidateEntry(0, Seed(), [], "seed", null, null, "ResNet basic block"),
                new CandidateMetrics("ok", 90.5, 90.1, 500_000, 70_000_000, 3.5, Fidelity: "10 epochs", WorkerHost: "worker-1")),
            (new CandidateEntry(1, Other(), [], "seed", null, null, "MobileNetV2 inverted residual"),
                new CandidateMetrics("ok", 88.5, 88.0, 2_200_000, 300_000_000)),
            (new CandidateEntry(2, Child(), [Seed().Id], "fair-idea", "operator.activation.hardswish", null, "swap the block's last ReLU for Hardswish"),
                new CandidateMetrics("ok", 91.25, 90.9, 500_000, 70_000_000)),
            (new CandidateEntry(3, Grandchild(), [Child().Id], "llm", "block.recalibration.squeeze-excitation", "sha256:" + new string('a', 64), "add squeeze-and-excitation on the residual branch"),
                new CandidateMetrics("ok", 91.0, 90.7, 510_000, 70_100_000, Extra: new Dictionary<string, double> { ["synflow"] = 12.5 })),
            (new CandidateEntry(4, Other() with { Head = new HeadSpec("hardswish", 0.1) }, [Other().Id, Child().Id], "crossover", null, null, "MobileNetV2 with the child's head activation"),
                new CandidateMetrics("failed", FailureReason: "out of memory")),
        ];
        var family = recorded.Select(r => store.Add(run, r.Entry)).ToList();
        foreach (var (r, stored) in recorded.Zip(family))
        {
            store.SetMetrics(run, stored.CandidateId, r.Metrics);
        }

        var journal = recorded.Zip(family, (r, stored) => new RecordedCandidate(
            r.Entry.Index, stored.CandidateId, stored.Commit, r.Entry.MutationType, r.Entry.Attribute, r.Entry.Parents, r.Entry.Transcript, r.Entry.Summary, r.Metrics)).ToList();
        return (family, journal);
    }

    /// <summary>Runs the git command-line client and returns its standard output.</summary>
    public static string Git(string workingDirectory, string? input, params string[] arguments) =>
        GitWithEnvironment(workingDirectory, input, new Dictionary<string, string>(), arguments);

    /// <summary><see cref="Git"/> with further environment variables, e.g. another author or a fixed commit date.</summary>
    public static string GitWithEnvironment(string workingDirectory, string? input, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["HOME"] = workingDirectory;
        start.Environment["GIT_AUTHOR_NAME"] = start.Environment["GIT_COMMITTER_NAME"] = "Test";
        start.Environment["GIT_AUTHOR_EMAIL"] = start.Environment["GIT_COMMITTER_EMAIL"] = "test@example.invalid";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }

        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"git {string.Join(' ', arguments)} failed: {error}");
        return output.Result;
    }
}
