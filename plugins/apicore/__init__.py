"""HTTP pieces shared by the EnrolHQ and Sentral clients: error classes, back-off, rate limiting."""
