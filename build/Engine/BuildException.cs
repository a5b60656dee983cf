namespace FairNad.Build.Engine;

/// <summary>A mistake in how the build was invoked or defined (unknown target, bad parameter value, cycle).</summary>
public sealed class BuildException(string message) : Exception(message);
