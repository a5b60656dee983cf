using FairNad.Architecture;

namespace FairNad.Cli;

/// <summary>What a command line names as an architecture: a spec file, an NB201 cell string, or a reference name.</summary>
internal static class ArchitectureSource
{
    public static IReadOnlyList<string> Datasets { get; } = ["cifar10", "cifar10-valid", "cifar100", "imagenet16-120", "fashion-mnist", "mnist"];

    public static InputSpec InputFor(string dataset) => dataset.ToLowerInvariant() switch
    {
        "fashion-mnist" or "mnist" => new InputSpec(1, 28, 10),
        "cifar10" or "cifar10-valid" or "cifar100" or "imagenet16-120" => Nb201.InputFor(dataset),
        _ => throw new UsageException($"unknown dataset '{dataset}'; known: {string.Join(", ", Datasets)}"),
    };

    /// <exception cref="UsageException">the text is none of the three.</exception>
    /// <exception cref="SpecFormatException">the file is not a valid spec document.</exception>
    public static ArchitectureSpec Resolve(string text, string dataset)
    {
        if (text.StartsWith('|'))
        {
            try
            {
                return Nb201.ToSpec(text, InputFor(dataset));
            }
            catch (FormatException e)
            {
                throw new UsageException($"'{text}' is not a NAS-Bench-201 cell string: {e.Message}");
            }
        }

        if (Directory.Exists(text))
        {
            throw new UsageException($"architecture {text} is a directory; expected a spec file (architecture.json), a NAS-Bench-201 cell string or a reference architecture name");
        }

        if (File.Exists(text))
        {
            return SpecJson.Read(InputChecks.ReadText(text, "architecture", "a spec file (architecture.json)"), text);
        }

        if (ReferenceArchitectures.Names.Contains(text))
        {
            return ReferenceArchitectures.Get(text, InputFor(dataset));
        }

        throw new UsageException(
            $"'{text}' is not a spec file, a NAS-Bench-201 cell string (|op~0|+|...|) or a reference architecture ({string.Join(", ", ReferenceArchitectures.Names)})");
    }
}

/// <summary>Width scaling of what a command line names; a refusal names the source.</summary>
internal static class Scaling
{
    /// <exception cref="UsageException">the spec is beyond the analyzer's limits or no width fits the budget; the message starts with <paramref name="source"/>.</exception>
    public static ScaledArchitecture ToBudget(ArchitectureSpec spec, string source, long budget, int? divisor = null)
    {
        try
        {
            return WidthScaler.ScaleToBudget(spec, budget, divisor);
        }
        catch (WidthScalingException e)
        {
            throw new UsageException($"{source}: {e.Message}");
        }
    }
}

/// <summary>The command line was wrong; exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
