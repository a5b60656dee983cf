using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Compilation;

/// <summary>
/// One application of an LLM-written operator as verified: its contract arguments, input size and measured cost
/// (parameters, and multiply-accumulates per sample as <see cref="MacCounter"/> counts them).
/// </summary>
public sealed record VerifiedOperator(string Source, int InChannels, int OutChannels, int Stride, int Height, int Width, long Parameters, long Macs = 0)
{
    /// <summary>The measurement as the cost table keeps it.</summary>
    public OperatorCost Cost => new(InChannels, OutChannels, Stride, Height, Width, Parameters, Macs);
}

/// <summary>
/// What structural verification found: <see cref="Problems"/> (empty when everything passed: each message names the
/// operator, and for compile errors the file, line and symbol), each operator application's measured parameters and
/// MACs, and the whole network's measured parameter count.
/// </summary>
public sealed record OperatorVerificationReport(IReadOnlyList<string> Problems, IReadOnlyList<VerifiedOperator> Operators, long NetworkParameters)
{
    /// <summary>
    /// The operators measured at the probe widths (<see cref="OperatorCostTable.ProbeChannels"/>, in and out) at each
    /// stride and input size they are applied with: the corners of the estimate width fitting uses. A probe the operator
    /// fails at is left out (its estimate is then unavailable; what is recorded is measured regardless).
    /// </summary>
    public IReadOnlyList<VerifiedOperator> Probes { get; init; } = [];

    /// <summary>Every measurement of the report, applications and probes, by operator reference.</summary>
    public IEnumerable<(string Reference, OperatorCost Cost)> Costs() => Operators.Concat(Probes).Select(o => (o.Source, o.Cost));

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public bool Passed => Problems.Count == 0;

    public string ToJson() => JsonSerializer.Serialize(this, Json) + "\n";

    /// <exception cref="FormatException">the text is not a report.</exception>
    public static OperatorVerificationReport Parse(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<OperatorVerificationReport>(json, Json) ?? throw new FormatException($"{source}: empty report");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not a verification report: {e.Message}");
        }
    }

    public static OperatorVerificationReport Failed(string problem) => new([problem], [], 0);
}

/// <summary>
/// Structural verification of a candidate that uses LLM-written operators, as FairNAD's loop has it: compile each source
/// through the sandbox, then for every distinct application in the network build the operator alone, run a forward and a
/// backward pass on its input size (batch 2, seeded), check the output shape the contract promises, that every output is
/// finite and that a gradient reaches every parameter, and count its parameters and MACs (<see cref="MacCounter"/>), then
/// measure it at the probe widths of <see cref="OperatorCostTable.ProbeChannels"/> for width fitting's estimate; finally build the whole network and do
/// the same on the spec's input shape. Runs compiled LLM code, so only a worker process calls it (`fairnad operators verify`).
/// </summary>
public static class OperatorVerifier
{
    public const int Batch = 2;

    public static OperatorVerificationReport Verify(ArchitectureSpec spec, IReadOnlyDictionary<string, string> sources, long seed = 0)
    {
        var problems = new List<string>();
        foreach (var reference in OperatorSources.References(spec))
        {
            if (!sources.TryGetValue(reference, out var source))
            {
                problems.Add($"operator {reference}: no source with this hash was given");
                continue;
            }

            try
            {
                CustomOperators.Load(source);
            }
            catch (CompilationFailedException e)
            {
                problems.Add($"operator {reference} does not compile:\n  " + string.Join("\n  ", e.Diagnostics.Where(d => d.Severity == "error").Take(8)));
            }
            catch (OperatorContractException e)
            {
                problems.Add($"operator {reference}: {e.Message}");
            }
        }

        if (problems.Count > 0)
        {
            return new(problems, [], 0);
        }

        NetworkPlan plan;
        try
        {
            plan = NetworkPlanner.Plan(spec, "candidate");
        }
        catch (InvalidArchitectureException e)
        {
            return OperatorVerificationReport.Failed(e.Message);
        }

        var verified = new List<VerifiedOperator>();
        foreach (var application in Applications(plan).Distinct())
        {
            torch.manual_seed(seed);
            var problem = Run(application, out var parameters, out var macs);
            if (problem is not null)
            {
                problems.Add($"operator {application.Source} (inChannels {application.InChannels}, outChannels {application.OutChannels}, stride {application.Stride}, input {application.Height} x {application.Width}): {problem}");
            }
            else
            {
                verified.Add(application with { Parameters = parameters, Macs = macs });
            }
        }

        if (problems.Count > 0)
        {
            return new(problems, verified, 0);
        }

        var probes = new List<VerifiedOperator>();
        foreach (var (source, stride, height, width) in verified.Select(v => (v.Source, v.Stride, v.Height, v.Width)).Distinct().Order())
        {
            foreach (var inChannels in OperatorCostTable.ProbeChannels)
            {
                foreach (var outChannels in OperatorCostTable.ProbeChannels)
                {
                    torch.manual_seed(seed);
                    var probe = new VerifiedOperator(source, inChannels, outChannels, stride, height, width, 0);
                    if (Measure(probe) is { } measured)
                    {
                        probes.Add(measured);
                    }
                }
            }
        }

        torch.manual_seed(seed);
        var network = NetworkCheck(plan, out var networkParameters);
        return (network is null ? new OperatorVerificationReport([], verified, networkParameters) : new([$"the network: {network}"], verified, networkParameters)) with { Probes = probes };
    }

    /// <summary>
    /// Parameters and MACs of one application from a forward pass alone, or null when the operator fails there or its
    /// count cannot be trusted. For probes: the applications themselves go through the full check of <see cref="Run"/>.
    /// </summary>
    private static VerifiedOperator? Measure(VerifiedOperator a)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        try
        {
            using var module = Layers.Custom(a.Source, a.InChannels, a.OutChannels, a.Stride);
            using var counter = MacCounter.Attach(module);
            module.train();
            var output = module.forward(torch.randn(Batch, a.InChannels, a.Height, a.Width));
            long[] expected = [Batch, a.OutChannels, OperatorSources.Strided(a.Height, a.Stride), OperatorSources.Strided(a.Width, a.Stride)];
            return output.shape.SequenceEqual(expected) && counter.Problems().Count == 0
                ? a with { Parameters = module.parameters().Sum(p => p.numel()), Macs = counter.MacsPerSample(Batch) }
                : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null;
        }
    }

    /// <summary>Every application of an LLM-written operator in the plan (parameters not yet measured).</summary>
    private static IEnumerable<VerifiedOperator> Applications(NetworkPlan plan)
    {
        foreach (var stage in plan.Stages)
        {
            var shapes = stage.Block.Nodes.ToDictionary(n => n.Id, n => n.Output, StringComparer.Ordinal);
            shapes[BlockSpec.InputName] = stage.Block.Input;
            foreach (var node in stage.Block.Nodes.Where(n => n.Layer?.Factory == nameof(Layers.Custom)))
            {
                var arguments = node.Layer!.Arguments.ToDictionary(a => a.Name, a => a.Value, StringComparer.Ordinal);
                var input = shapes[node.Inputs[0]];
                yield return new VerifiedOperator((string)arguments["source"], (int)arguments["inChannels"], (int)arguments["outChannels"], (int)arguments["stride"], input.H, input.W, 0);
            }
        }
    }

    private static string? Run(VerifiedOperator a, out long parameters, out long macs)
    {
        parameters = 0;
        macs = 0;
        using var scope = torch.NewDisposeScope();
        nn.Module<Tensor, Tensor> module;
        try
        {
            module = Layers.Custom(a.Source, a.InChannels, a.OutChannels, a.Stride);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"the constructor threw {e.GetType().Name}: {e.Message}{Where(e)}";
        }

        using (module)
        {
            using var counter = MacCounter.Attach(module);
            var expected = new long[] { Batch, a.OutChannels, OperatorSources.Strided(a.Height, a.Stride), OperatorSources.Strided(a.Width, a.Stride) };
            var problem = Check(module, torch.randn(Batch, a.InChannels, a.Height, a.Width), expected, out parameters);
            if (problem is not null)
            {
                return problem;
            }

            var counting = counter.Problems();
            if (counting.Count > 0)
            {
                return string.Join("; ", counting);
            }

            macs = counter.MacsPerSample(Batch);
            return null;
        }
    }

    private static string? NetworkCheck(NetworkPlan plan, out long parameters)
    {
        parameters = 0;
        using var scope = torch.NewDisposeScope();
        InterpretedNetwork network;
        try
        {
            network = new InterpretedNetwork(plan);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"building it threw {e.GetType().Name}: {e.Message}{Where(e)}";
        }

        using (network)
        {
            var input = plan.Canonical.Input;
            return Check(network, torch.randn(Batch, input.Channels, input.Resolution, input.Resolution), [Batch, input.Classes], out parameters);
        }
    }

    private static string? Check(nn.Module<Tensor, Tensor> module, Tensor input, long[] expected, out long parameters)
    {
        parameters = module.parameters().Sum(p => p.numel());
        module.train();
        Tensor output;
        try
        {
            output = module.forward(input);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"forward threw {e.GetType().Name}: {e.Message}{Where(e)}";
        }

        if (!output.shape.SequenceEqual(expected))
        {
            return $"forward returned shape [{string.Join(", ", output.shape)}], the contract needs [{string.Join(", ", expected)}]";
        }

        if (!output.isfinite().all().item<bool>())
        {
            return "forward returned non-finite values (NaN or infinity)";
        }

        try
        {
            output.square().mean().backward();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"backward threw {e.GetType().Name}: {e.Message}{Where(e)}";
        }

        var unreached = module.named_parameters().Where(p => p.parameter.requires_grad && (p.parameter.grad is null || !p.parameter.grad.isfinite().all().item<bool>()))
            .Select(p => p.name).ToList();
        return unreached.Count == 0
            ? null
            : $"no finite gradient reaches parameter(s) {string.Join(", ", unreached.Take(6))}: every parameter must take part in forward";
    }

    /// <summary>The operator source's line the exception came from, when the stack trace knows it.</summary>
    private static string Where(Exception e)
    {
        var line = (e.StackTrace ?? string.Empty).Split('\n').FirstOrDefault(l => l.Contains("operators/", StringComparison.Ordinal) && l.Contains(":line ", StringComparison.Ordinal));
        return line is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" (at {line.Trim()})");
    }
}
