using System.Globalization;
using System.Text;
using System.Text.Json;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Modules;
using TorchSharp;

namespace FairNad.Cli;

/// <summary>`fairnad arch ...`: inspect any candidate. Each method writes to <paramref name="output"/> and returns the exit code.</summary>
internal static class ArchCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Show(ArchitectureSpec spec, bool canonical, TextWriter output)
    {
        output.Write(canonical ? SpecJson.Write(Canonicalizer.Canonicalize(spec), includeName: false) : SpecJson.Write(spec));
        return 0;
    }

    public static int Hash(ArchitectureSpec spec, TextWriter output)
    {
        output.WriteLine(spec.Id);
        return 0;
    }

    /// <summary>Exit 0 when valid, 1 with one line per broken rule otherwise.</summary>
    public static int Validate(ArchitectureSpec spec, bool json, TextWriter output)
    {
        var analysis = ArchitectureAnalyzer.Analyze(spec);
        if (json)
        {
            output.WriteLine(Json(w =>
            {
                w.WriteBoolean("valid", analysis.IsValid);
                w.WriteString("id", spec.Id);
                w.WriteStartArray("errors");
                foreach (var e in analysis.Errors)
                {
                    w.WriteStartObject();
                    w.WriteString("location", e.Location);
                    w.WriteString("node", e.NodeId);
                    w.WriteString("op", e.Op);
                    w.WriteString("rule", e.Rule);
                    w.WriteString("message", e.ToString());
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }));
        }
        else if (analysis.IsValid)
        {
            output.WriteLine($"valid: {spec.Id}");
        }
        else
        {
            foreach (var e in analysis.Errors)
            {
                output.WriteLine($"{e.Location}: {e.Rule}: {e}");
            }
        }

        return analysis.IsValid ? 0 : 1;
    }

    public static int Analyze(ArchitectureSpec spec, bool json, TextWriter output)
    {
        var analysis = ArchitectureAnalyzer.Analyze(spec);
        if (!analysis.IsValid)
        {
            return Validate(spec, json, output);
        }

        if (json)
        {
            output.WriteLine(Json(w =>
            {
                w.WriteString("id", spec.Id);
                w.WriteString("name", spec.Name);
                w.WriteNumber("parameters", analysis.Parameters);
                w.WriteNumber("macs", analysis.Macs);
                w.WriteNumber("peakActivationBytes", analysis.PeakActivationBytes);
                if (analysis.Unmeasured.Count > 0)
                {
                    // LLM-written operators counted as 0: their cost is measured in a worker (operators/<hex>.costs.json of a run).
                    w.WriteStartArray("unmeasured");
                    foreach (var application in analysis.Unmeasured)
                    {
                        w.WriteStringValue(application);
                    }

                    w.WriteEndArray();
                }

                w.WriteStartArray("stages");
                foreach (var stage in analysis.Stages)
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", stage.Index);
                    w.WriteNumber("blocks", spec.Stages[stage.Index].Blocks);
                    w.WriteNumber("width", stage.Width);
                    w.WriteNumber("resolution", stage.Resolution);
                    w.WriteNumber("blockParameters", stage.BlockParameters);
                    w.WriteNumber("blockMacs", stage.BlockMacs);
                    w.WriteStartObject("shapes");
                    foreach (var node in spec.BlockOf(stage.Index).Nodes)
                    {
                        var shape = stage.NodeShapes[node.Id];
                        w.WriteString(node.Id, shape.ToString());
                    }

                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }));
            return 0;
        }

        var input = spec.Input;
        output.WriteLine($"candidate   {spec.Id}");
        output.WriteLine($"name        {spec.Name}");
        output.WriteLine(string.Create(Invariant, $"input       {input.Channels} x {input.Resolution} x {input.Resolution}, {input.Classes} classes"));
        output.WriteLine(string.Create(Invariant, $"parameters  {analysis.Parameters:N0}"));
        output.WriteLine(string.Create(Invariant, $"MACs        {analysis.Macs:N0} per sample ({analysis.Macs / 1e6:F1} M)"));
        output.WriteLine(string.Create(Invariant, $"peak memory {analysis.PeakActivationBytes / 1024.0:F1} KiB of float32 activations per sample (forward, inference)"));
        foreach (var application in analysis.Unmeasured)
        {
            output.WriteLine($"unmeasured  {application}: counted as 0 parameters and MACs (a worker measures it: operators/<hex>.costs.json of a run)");
        }

        output.WriteLine(string.Create(Invariant, $"stem        {spec.Stem.Kind} {spec.Stem.Kernel}x{spec.Stem.Kernel}/{spec.Stem.Stride} -> {spec.Stem.Channels} channels, activation {spec.Stem.Activation}"));
        foreach (var stage in analysis.Stages)
        {
            var s = spec.Stages[stage.Index];
            output.WriteLine(string.Create(Invariant,
                $"stage {stage.Index}     {s.Downsample} then {s.Blocks} x block at {stage.Width} channels, {stage.Resolution} x {stage.Resolution}: {stage.BlockParameters:N0} parameters, {stage.BlockMacs:N0} MACs per block"));
            foreach (var node in spec.BlockOf(stage.Index).Nodes)
            {
                output.WriteLine($"  {node.Id,-12} {node.Op,-18} {string.Join(", ", node.Inputs),-24} -> {stage.NodeShapes[node.Id]}");
            }
        }

        output.WriteLine(string.Create(Invariant, $"head        {(spec.Head.PreActivation == "none" ? string.Empty : $"BN + {spec.Head.PreActivation}, ")}global average pool, {(spec.Head.Dropout > 0 ? $"dropout {spec.Head.Dropout}, " : string.Empty)}linear -> {input.Classes}"));
        return 0;
    }

    public static int Codegen(ArchitectureSpec spec, string source, string? outPath, TextWriter output)
    {
        var code = TorchSharpCodeWriter.Write(spec, source);
        if (outPath is null)
        {
            output.Write(code);
        }
        else
        {
            File.WriteAllText(outPath, code, new UTF8Encoding(false));
            output.WriteLine($"wrote {outPath} ({spec.Id})");
        }

        return 0;
    }

    public static int Scale(ArchitectureSpec spec, string source, long budget, int? divisor, TextWriter output, TextWriter log)
    {
        var scaled = Scaling.ToBudget(spec, source, budget, divisor);
        log.WriteLine(string.Create(Invariant, $"{spec.Name}: multiplier {scaled.Multiplier:F4}, {scaled.Parameters:N0} parameters = {scaled.Fill:P2} of {budget:N0}"));
        output.Write(SpecJson.Write(scaled.Spec));
        return 0;
    }

    public static int References(string dataset, TextWriter output)
    {
        var input = ArchitectureSource.InputFor(dataset);
        output.WriteLine($"{"name",-16} {"parameters",12} {"MACs",14}  id");
        foreach (var name in ReferenceArchitectures.Names)
        {
            var spec = ReferenceArchitectures.Get(name, input);
            var analysis = ArchitectureAnalyzer.Analyze(spec);
            output.WriteLine(string.Create(Invariant, $"{name,-16} {analysis.Parameters,12:N0} {analysis.Macs,14:N0}  {spec.Id}"));
        }

        return 0;
    }

    /// <summary>Builds the model (interpreted, and generated + compiled with --generated), checks the counts and runs a forward pass.</summary>
    public static int Build(ArchitectureSpec spec, string source, bool generated, long seed, int batch, int threads, TextWriter output)
    {
        var plan = NetworkPlanner.Plan(spec, source);
        var info = TorchRuntime.Configure(threads, seed);
        output.WriteLine($"torch      TorchSharp {info.TorchSharpVersion}, {info.Device}, {info.Threads} thread(s), seed {seed}");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var interpreted = new InterpretedNetwork(plan);
        var built = watch.Elapsed;
        var status = Report("interpreted", interpreted, plan, seed, batch, built, TimeSpan.Zero, output);
        if (!generated)
        {
            return status;
        }

        watch.Restart();
        using var assembly = CandidateCompiler.Compile("candidate_" + plan.CandidateId[..16], [new SourceFile("Network.cs", TorchSharpCodeWriter.Write(plan))]);
        var compiled = watch.Elapsed;
        TorchRuntime.Configure(threads, seed);
        watch.Restart();
        using var network = assembly.CreateNetwork(plan.CandidateId);
        var generatedStatus = Report("generated", network, plan, seed, batch, watch.Elapsed, compiled, output);
        using var input = Input(plan, batch, seed);
        using var a = Forward(interpreted, input);
        using var b = Forward(network, input);
        var same = a.eq(b).all().item<bool>();
        output.WriteLine(same ? "agreement  identical outputs from both paths" : $"agreement  OUTPUTS DIFFER (max |difference| {(a - b).abs().max().item<float>()})");
        return status == 0 && generatedStatus == 0 && same ? 0 : 1;
    }

    private static int Report(string label, torch.nn.Module<torch.Tensor, torch.Tensor> network, NetworkPlan plan, long seed, int batch, TimeSpan built, TimeSpan compiled, TextWriter output)
    {
        var count = network.parameters().Sum(p => p.numel());
        using var input = Input(plan, batch, seed);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var logits = Forward(network, input);
        var forward = watch.Elapsed;
        var shape = string.Join(" x ", logits.shape);
        var compile = compiled == TimeSpan.Zero ? string.Empty : string.Create(Invariant, $", compiled in {compiled.TotalMilliseconds:F0} ms");
        output.WriteLine(string.Create(Invariant,
            $"{label,-12}{count:N0} parameters (analytic {plan.Analysis.Parameters:N0}){compile}, built in {built.TotalMilliseconds:F0} ms, forward of {batch} in {forward.TotalMilliseconds:F1} ms -> {shape}"));
        return count == plan.Analysis.Parameters ? 0 : 1;
    }

    private static torch.Tensor Input(NetworkPlan plan, int batch, long seed)
    {
        var input = plan.Canonical.Input;
        return torch.randn([batch, input.Channels, input.Resolution, input.Resolution], generator: new torch.Generator((ulong)seed));
    }

    private static torch.Tensor Forward(torch.nn.Module<torch.Tensor, torch.Tensor> network, torch.Tensor input)
    {
        network.eval();
        using var _ = torch.no_grad();
        return network.forward(input);
    }

    private static string Json(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
