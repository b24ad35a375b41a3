extension RESTError {
    /// `{"code":…,"details":…,"hint":…,"message":…}`: all four keys, absent ones `null`, in
    /// PostgREST's (alphabetical) order.
    package var jsonBody: [UInt8] {
        let text = "{\"code\":\(JSONText.string(code)),\"details\":\(JSONText.optionalString(details)),"
            + "\"hint\":\(JSONText.optionalString(hint)),\"message\":\(JSONText.string(message))}"
        return Array(text.utf8)
    }

    /// The error as the response that answers a request.
    package var response: DataResponse {
        DataResponse.json(status, jsonBody, headers: headers)
    }
}
